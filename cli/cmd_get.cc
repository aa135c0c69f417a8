// ddbfs get [-j N] [--force] PATH... LOCALDEST (download like `cp -r`) and
// ddbfs cat PATH... (to stdout).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>

#include "command.h"
#include "ddbfs/constants.h"
#include "paths.h"
#include "progress.h"

namespace ddbfs::cli {

namespace {

struct GetOptions {
  std::vector<std::string> args;
  int jobs = 8;
  bool force = false;
};

// One thing to download; directories come before their contents.
struct Item {
  std::string path;   // DDBFS path
  std::string local;  // local destination
  Attr attr;
  std::string link_target;
};

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    --ts.tv_sec;
  }
  return ts;
}

Status WriteAll(int fd, const char* data, size_t n, const std::string& local) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return LocalError("cannot write", local, errno);
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status();
}

// Streams a whole file to `fd`; `on_bytes` sees each piece's size.
Status CopyOut(Client& client, const Attr& attr, int fd, const std::string& local,
               const std::function<void(uint64_t)>& on_bytes) {
  ASSIGN_OR_RETURN(auto reader, client.OpenReader(attr.inode));
  std::vector<char> buf(kMaxIoSize);
  uint64_t off = 0;
  const uint64_t size = reader->size();
  while (off < size) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(off, std::span<char>(buf.data(), buf.size())));
    if (n == 0) break;
    RETURN_IF_ERROR(WriteAll(fd, buf.data(), n, local));
    off += n;
    if (on_bytes) on_bytes(n);
  }
  if (off != size) {
    return IoError("short read: got " + std::to_string(off) + " of " + std::to_string(size) +
                   " bytes");
  }
  return Status();
}

class Downloader {
 public:
  Downloader(Context& ctx, Client& client, const GetOptions& o)
      : ctx_(ctx), client_(client), o_(o) {}

  void Plan(const std::string& path, const Attr& attr, const std::string& local) {
    Item it{path, local, attr, ""};
    if (attr.type == FileType::kSymlink) {
      auto t = client_.Readlink(attr.inode);
      if (!t.ok()) return ctx_.Fail(path, t.status());
      it.link_target = *t;
    }
    items_.push_back(it);
    if (attr.type == FileType::kRegular) total_bytes_ += attr.size;
    if (attr.type != FileType::kDirectory) return;
    auto entries = client_.ListDir(attr.inode);
    if (!entries.ok()) return ctx_.Fail(path, entries.status());
    for (const auto& e : *entries) {
      if (ctx_.aborted()) return;
      Plan(JoinPath(path, e.name), e.attr, local + "/" + e.name);
    }
  }

  void Run() {
    uint64_t files = 0;
    for (const auto& it : items_) files += it.attr.type == FileType::kDirectory ? 0 : 1;
    Progress progress(ctx_, files, total_bytes_);
    made_.assign(items_.size(), false);
    std::vector<size_t> leaves;
    for (size_t i = 0; i < items_.size(); ++i) {
      if (items_[i].attr.type == FileType::kDirectory) {
        MakeDir(i);
      } else {
        leaves.push_back(i);
      }
    }
    ParallelFor(leaves.size(), o_.jobs, [&](size_t k) {
      if (ctx_.aborted()) return;
      const Item& it = items_[leaves[k]];
      Status s = it.attr.type == FileType::kRegular ? GetFile(it, progress)
                 : IsSpecial(it.attr.type)          ? GetSpecial(it)
                                                    : GetSymlink(it);
      if (s.ok()) {
        progress.FileDone();
      } else {
        ctx_.Fail(it.path, s);
      }
    });
    // Modes and mtimes of directories last (a 0555 directory could not be
    // filled; children change the mtime), deepest first.
    for (size_t i = items_.size(); i-- > 0;) {
      if (!made_[i]) continue;
      const Item& it = items_[i];
      struct timespec times[2] = {ToTimespec(it.attr.atime_ns), ToTimespec(it.attr.mtime_ns)};
      if (::chmod(it.local.c_str(), it.attr.mode & 07777) != 0 ||
          ::utimensat(AT_FDCWD, it.local.c_str(), times, 0) != 0) {
        ctx_.Fail(it.path, LocalError("cannot set mode and mtime of", it.local, errno));
      }
    }
    progress.Finish();
    // A summary of nothing done would only repeat the failures above.
    const bool did_something = progress.files() > 0 || dirs_ > 0 || !ctx_.failed();
    if (!ctx_.quiet() && did_something) {
      std::cout << "downloaded " << progress.Summary(dirs_)
                << (ctx_.failed() ? "; some paths failed (see above)" : "") << std::endl;
    }
  }

 private:
  void MakeDir(size_t i) {
    const Item& it = items_[i];
    if (::mkdir(it.local.c_str(), 0700) != 0) {
      struct stat st;
      if (errno != EEXIST || ::stat(it.local.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        ctx_.Fail(it.path,
                  LocalError("cannot create directory", it.local, errno == 0 ? EEXIST : errno));
        return;
      }
    }
    made_[i] = true;
    ++dirs_;
  }

  Status CheckTarget(const Item& it) {
    struct stat st;
    if (::lstat(it.local.c_str(), &st) != 0) return Status();
    if (S_ISDIR(st.st_mode)) {
      return Status(ErrorCode::kExists, "local " + it.local + " is a directory — remove it first");
    }
    if (!o_.force) {
      return Status(ErrorCode::kExists,
                    "local " + it.local + " already exists — use --force to overwrite it");
    }
    return Status();
  }

  Status GetFile(const Item& it, Progress& progress) {
    RETURN_IF_ERROR(CheckTarget(it));
    // Download under a temporary name in the same folder, then rename: a
    // failed get leaves no partial file.
    std::string dir = it.local.substr(0, it.local.rfind('/') + 1);
    std::string tmp = dir + "." + LocalBaseName(it.local) + ".ddbfs-XXXXXX";
    if (tmp.size() - dir.size() > 255) tmp = dir + ".ddbfs-get-XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) return LocalError("cannot create a file in", dir.empty() ? "." : dir, errno);
    Status s = CopyOut(client_, it.attr, fd, it.local, [&](uint64_t n) { progress.AddBytes(n); });
    struct timespec times[2] = {ToTimespec(it.attr.atime_ns), ToTimespec(it.attr.mtime_ns)};
    if (s.ok() && (::fchmod(fd, it.attr.mode & 07777) != 0 || ::futimens(fd, times) != 0)) {
      s = LocalError("cannot set mode and mtime of", it.local, errno);
    }
    if (::close(fd) != 0 && s.ok()) s = LocalError("cannot write", it.local, errno);
    if (s.ok() && ::rename(tmp.c_str(), it.local.c_str()) != 0) {
      s = LocalError("cannot rename a download to", it.local, errno);
    }
    if (!s.ok()) ::unlink(tmp.c_str());
    return s;
  }

  Status GetSymlink(const Item& it) {
    RETURN_IF_ERROR(CheckTarget(it));
    if (o_.force) ::unlink(it.local.c_str());
    if (::symlink(it.link_target.c_str(), it.local.c_str()) != 0) {
      return LocalError("cannot create symlink", it.local, errno);
    }
    struct timespec times[2] = {ToTimespec(it.attr.atime_ns), ToTimespec(it.attr.mtime_ns)};
    ::utimensat(AT_FDCWD, it.local.c_str(), times, AT_SYMLINK_NOFOLLOW);  // best effort
    return Status();
  }

  // A FIFO, socket or device node is made again as such (as cp -a does);
  // devices need root here too.
  Status GetSpecial(const Item& it) {
    RETURN_IF_ERROR(CheckTarget(it));
    if (o_.force) ::unlink(it.local.c_str());
    mode_t kind = S_IFIFO;
    if (it.attr.type == FileType::kSocket) kind = S_IFSOCK;
    if (it.attr.type == FileType::kCharDevice) kind = S_IFCHR;
    if (it.attr.type == FileType::kBlockDevice) kind = S_IFBLK;
    if (::mknod(it.local.c_str(), kind | (it.attr.mode & 07777),
                static_cast<dev_t>(it.attr.rdev)) != 0) {
      return LocalError("cannot make special file", it.local, errno);
    }
    ::chmod(it.local.c_str(), it.attr.mode & 07777);  // past the umask
    struct timespec times[2] = {ToTimespec(it.attr.atime_ns), ToTimespec(it.attr.mtime_ns)};
    ::utimensat(AT_FDCWD, it.local.c_str(), times, AT_SYMLINK_NOFOLLOW);  // best effort
    return Status();
  }

  Context& ctx_;
  Client& client_;
  const GetOptions& o_;
  std::vector<Item> items_;
  std::vector<bool> made_;  // directories created or reused, per item
  uint64_t total_bytes_ = 0;
  uint64_t dirs_ = 0;
};

int RunGet(Context& ctx, const GetOptions& o) {
  if (o.args.size() < 2) throw UsageError{"get needs at least one PATH and a LOCALDEST"};
  std::vector<std::string> sources;
  for (size_t i = 0; i + 1 < o.args.size(); ++i) {
    auto p = NormalizePath(o.args[i]);
    if (!p.ok()) {
      ctx.Fail("", p.status());
      return ctx.exit_code();
    }
    sources.push_back(*p);
  }
  std::string dest = o.args.back();
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  struct stat st;
  const bool exists = ::stat(dest.c_str(), &st) == 0;
  const bool into = exists && S_ISDIR(st.st_mode);
  if (!into && sources.size() > 1) {
    ctx.FailText(dest, exists ? ErrorCode::kNotDir : ErrorCode::kNotFound,
                 std::string(exists ? "is not a directory" : "no such directory") +
                     "; several sources go into an existing local directory");
    return ctx.exit_code();
  }
  Client* client = ctx.client();
  if (!client) return ctx.exit_code();
  Downloader down(ctx, *client, o);
  for (const auto& src : sources) {
    if (ctx.aborted()) break;
    auto attr = client->ResolvePath(src);
    if (!attr.ok()) {
      ctx.Fail(src, attr.status());
      continue;
    }
    std::string local = dest;
    if (into && src != "/") local = (dest == "/" ? "" : dest) + "/" + BaseName(src);
    down.Plan(src, *attr, local);
  }
  down.Run();
  return ctx.exit_code();
}

// Resolves `path`, following symlinks (up to 16) like cat(1) does.
Result<Attr> ResolveFollowing(Client& client, std::string path) {
  for (int hops = 0; hops < 16; ++hops) {
    ASSIGN_OR_RETURN(Attr a, client.ResolvePath(path));
    if (a.type != FileType::kSymlink) return a;
    ASSIGN_OR_RETURN(std::string target, client.Readlink(a.inode));
    auto next = NormalizePath(target.starts_with("/") ? target : JoinPath(ParentOf(path), target),
                              /*lexical_dotdot=*/true);
    if (!next.ok()) return next.status();
    path = *next;
  }
  return InvalidArgument("too many levels of symbolic links");
}

int RunCat(Context& ctx, const std::vector<std::string>& paths) {
  return ctx.ForEachPath(paths, [&](Client& client, const std::string& path) {
    auto attr = ResolveFollowing(client, path);
    if (!attr.ok()) {
      ctx.Fail(path, attr.status());
      return;
    }
    if (attr->type == FileType::kDirectory) {
      ctx.FailText(path, ErrorCode::kIsDir, "is a directory — use `ddbfs get` to download a tree");
      return;
    }
    Status s = CopyOut(client, *attr, STDOUT_FILENO, "standard output", nullptr);
    if (!s.ok()) ctx.Fail(path, s);
  });
}

}  // namespace

Command GetCommand() {
  return {
      "get", {"download", "export"}, "download files and trees (like cp -r)", [](CLI::App* app) {
        auto o = std::make_shared<GetOptions>();
        app->add_option("PATH... LOCALDEST", o->args, "DDBFS paths, then the local destination")
            ->required();
        app->add_option("-j,--jobs", o->jobs, "parallel downloads (default 8)")
            ->check(CLI::Range(1, 256));
        app->add_flag("-f,--force", o->force, "overwrite existing local files");
        return Runner([o](Context& ctx) { return RunGet(ctx, *o); });
      }};
}

Command CatCommand() {
  return {"cat", {}, "write files to standard output", [](CLI::App* app) {
            auto paths = std::make_shared<std::vector<std::string>>();
            app->add_option("PATH", *paths, "DDBFS files")->required();
            return Runner([=](Context& ctx) { return RunCat(ctx, *paths); });
          }};
}

}  // namespace ddbfs::cli
