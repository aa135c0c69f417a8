// ddbfs add [-j N] [-n] [--force] LOCAL... DEST: uploads files and trees
// like `cp -r`, keeping modes, mtimes and symlinks.

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "command.h"
#include "ddbfs/constants.h"
#include "paths.h"
#include "progress.h"

namespace ddbfs::cli {

namespace {

constexpr size_t kNoParent = static_cast<size_t>(-1);

struct AddOptions {
  std::vector<std::string> args;
  int jobs = 16;  // docs/cli.md: measured against 8 and 32 with 4 KiB files
  bool no_sync = false;
  bool force = false;
  std::vector<std::string> tags;  // -t: put on every file, in its create
  std::vector<Tag> parsed_tags;
};

enum class Kind { kDir, kFile, kSymlink };

// One thing to upload; parents come before their children.
struct Item {
  Kind kind = Kind::kFile;
  std::string local;
  std::string path;           // DDBFS path
  size_t parent = kNoParent;  // index of the parent directory item
  struct stat st {};
  std::string link_target;
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Not thread-safe itself; Run() uses worker threads internally.
class Uploader {
 public:
  Uploader(Context& ctx, Client& client, const AddOptions& o) : ctx_(ctx), client_(client), o_(o) {}

  // Adds `local` (and everything below it) to the plan as `path`.
  void Plan(const std::string& local, const std::string& path, size_t parent) {
    Item it;
    it.local = local;
    it.path = path;
    it.parent = parent;
    if (::lstat(local.c_str(), &it.st) != 0) {
      ctx_.Fail(path, LocalError("cannot read", local, errno));
      return;
    }
    if (S_ISREG(it.st.st_mode)) {
      it.kind = Kind::kFile;
      total_bytes_ += static_cast<uint64_t>(it.st.st_size);
      items_.push_back(std::move(it));
    } else if (S_ISLNK(it.st.st_mode)) {
      std::vector<char> buf(static_cast<size_t>(std::max<off_t>(it.st.st_size, 255)) + 1);
      ssize_t n = ::readlink(local.c_str(), buf.data(), buf.size());
      if (n < 0) {
        ctx_.Fail(path, LocalError("cannot read link", local, errno));
        return;
      }
      it.kind = Kind::kSymlink;
      it.link_target.assign(buf.data(), static_cast<size_t>(n));
      items_.push_back(std::move(it));
    } else if (S_ISDIR(it.st.st_mode)) {
      it.kind = Kind::kDir;
      items_.push_back(std::move(it));
      const size_t self = items_.size() - 1;
      std::vector<std::string> names;
      if (!ListLocal(local, path, &names)) return;
      for (const auto& name : names) Plan(local + "/" + name, JoinPath(path, name), self);
    } else if (parent == kNoParent) {
      // Named on the command line: nothing to add is a failure, not a
      // success with a warning.
      ctx_.FailText(local, ErrorCode::kNotSupported,
                    "is a FIFO, socket or device: DDBFS stores regular files, directories and "
                    "symlinks");
    } else {
      ctx_.Warn("skipping " + local + ": not a regular file, directory or symlink");
    }
  }

  // Resolves the DDBFS parent of a top-level target (cached per parent).
  bool ResolveTop(const std::string& target) {
    std::string parent = ParentOf(target);
    if (top_parents_.count(parent)) return top_parents_[parent] != 0;
    auto pn = ResolveParent(client_, target);
    if (!pn.ok()) {
      ctx_.Fail(target, pn.status());
      top_parents_[parent] = 0;
      return false;
    }
    top_parents_[parent] = pn->parent.inode;
    return true;
  }

  void Run() {
    inodes_.assign(items_.size(), 0);
    uint64_t files = 0;
    for (const auto& it : items_) files += it.kind == Kind::kDir ? 0 : 1;
    Progress progress(ctx_, files, total_bytes_);
    for (size_t i = 0; i < items_.size() && !ctx_.aborted(); ++i) {
      if (items_[i].kind == Kind::kDir) MakeDir(i);
    }
    std::vector<size_t> leaves;
    for (size_t i = 0; i < items_.size(); ++i) {
      if (items_[i].kind != Kind::kDir) leaves.push_back(i);
    }
    ParallelFor(leaves.size(), o_.jobs, [&](size_t k) {
      if (ctx_.aborted()) return;
      const Item& it = items_[leaves[k]];
      InodeId parent = ParentInode(it);
      if (parent == 0) return;  // the parent's failure was reported
      std::vector<char> buf;
      Status s = it.kind == Kind::kFile ? UploadFile(it, parent, progress, buf)
                                        : UploadSymlink(it, parent);
      if (s.ok()) {
        progress.FileDone();
      } else {
        ctx_.Fail(it.path, s);
      }
    });
    // Children changed the directories' mtimes: set them last, deepest first.
    for (size_t i = items_.size(); i-- > 0 && !ctx_.aborted();) {
      if (items_[i].kind != Kind::kDir || inodes_[i] == 0) continue;
      AttrChanges ch;
      ch.mtime_ns = MtimeNs(items_[i].st);
      if (CreationMode(items_[i]) != (items_[i].st.st_mode & 07777)) {
        ch.mode = items_[i].st.st_mode & 07777;
      }
      auto a = client_.SetAttr(inodes_[i], ch);
      if (!a.ok()) ctx_.Fail(items_[i].path, a.status());
    }
    progress.Finish();
    // A summary of nothing done would only repeat the failures above.
    const bool did_something = progress.files() > 0 || dirs_ > 0 || !ctx_.failed();
    if (!ctx_.quiet() && did_something) {
      std::cout << "added " << progress.Summary(dirs_)
                << (ctx_.failed() ? "; some paths failed (see above)" : "") << std::endl;
    }
  }

 private:
  bool ListLocal(const std::string& local, const std::string& path,
                 std::vector<std::string>* names) {
    DIR* d = ::opendir(local.c_str());
    if (!d) {
      ctx_.Fail(path, LocalError("cannot list", local, errno));
      return false;
    }
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names->push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names->begin(), names->end());
    return true;
  }

  InodeId ParentInode(const Item& it) {
    if (it.parent != kNoParent) return inodes_[it.parent];
    auto found = top_parents_.find(ParentOf(it.path));  // read-only while workers run
    return found == top_parents_.end() ? 0 : found->second;
  }

  void MakeDir(size_t i) {
    const Item& it = items_[i];
    InodeId parent = ParentInode(it);
    if (parent == 0) return;
    const std::string name = BaseName(it.path);
    auto made = client_.Mkdir(parent, name, CreationMode(it));
    if (!made.ok() && made.status().code() == ErrorCode::kExists) {
      made = client_.Lookup(parent, name);  // merge into an existing directory, like cp -r
      if (made.ok() && made->type != FileType::kDirectory) {
        ctx_.FailText(it.path, ErrorCode::kExists,
                      "already exists and is not a directory; use `ddbfs rm` first");
        return;
      }
    }
    if (!made.ok()) {
      ctx_.Fail(it.path, made.status());
      return;
    }
    inodes_[i] = made->inode;
    ++dirs_;
  }

  Status Exists() const {
    return Status(ErrorCode::kExists,
                  "already exists; use `ddbfs rm` first — or add --force to overwrite it");
  }

  // Creates the new file `name`; a non-empty one with its writer, from the
  // one Create round trip that also places chunk 0. An empty file gets no
  // chunk (one placed for it would stay unwritten) and no writer.
  Result<Attr> CreateNew(InodeId parent, const std::string& name, const Item& it,
                         std::unique_ptr<FileWriter>* writer) {
    const uint32_t mode = CreationMode(it);
    const int64_t mtime = MtimeNs(it.st);
    const std::vector<Tag>& tags = o_.parsed_tags;
    if (it.st.st_size == 0) return client_.Create(parent, name, mode, mtime, std::nullopt, tags);
    ASSIGN_OR_RETURN(CreatedFile f,
                     client_.CreateForWrite(parent, name, mode, mtime, std::nullopt, tags));
    *writer = std::move(f.writer);
    return f.attr;
  }

  // A name for the new inode of a replacement (`add --force` over an
  // existing file), renamed over the old name once its data is complete.
  static std::string TempName() {
    static std::atomic<uint64_t> counter{0};
    unsigned char raw[8] = {};
    if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
      std::memset(raw, 0, sizeof raw);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, ".ddbfs-add.%d.%llu.%02x%02x%02x%02x%02x%02x%02x%02x",
                  static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(counter.fetch_add(1)), raw[0], raw[1], raw[2],
                  raw[3], raw[4], raw[5], raw[6], raw[7]);
    return buf;
  }

  // Uploads a regular file. A new name is created and written in place. An
  // existing file (with --force) is replaced atomically: the data goes to a
  // new inode under a temporary name, which is renamed over the old one
  // only once it is complete and synced, so readers and concurrent
  // replacements see one whole content or the other, never a mix.
  Status UploadFile(const Item& it, InodeId parent, Progress& progress, std::vector<char>& buf) {
    const std::string name = BaseName(it.path);
    int fd = ::open(it.local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return LocalError("cannot read", it.local, errno);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    std::unique_ptr<FileWriter> writer;
    Result<Attr> attr = CreateNew(parent, name, it, &writer);
    if (attr.ok()) return WriteData(it, fd, *attr, std::move(writer), progress, buf);
    if (attr.status().code() != ErrorCode::kExists) return attr.status();
    if (!o_.force) return Exists();
    Result<Attr> old = client_.Lookup(parent, name);
    if (!old.ok()) return old.status();
    if (old->type != FileType::kRegular) {
      return Status(ErrorCode::kExists,
                    "already exists and is not a regular file — use `ddbfs rm -r` first");
    }
    const std::string temp = TempName();
    attr = CreateNew(parent, temp, it, &writer);
    if (!attr.ok()) return attr.status();
    Status s = WriteData(it, fd, *attr, std::move(writer), progress, buf);
    if (s.ok()) s = client_.Rename(parent, temp, parent, name);
    if (!s.ok()) {
      Status gone = client_.Unlink(parent, temp);
      if (!gone.ok() && gone.code() != ErrorCode::kNotFound) {
        std::cerr << "ddbfs: warning: could not remove the temporary " << temp << " in " << it.path
                  << "'s folder: " << gone.ToString() << "\n";
      }
    }
    return s;
  }

  // The mode a new node is made with. The metaserver checks permissions for
  // who we are (docs/security.md): a file without owner write permission
  // (0444) or a directory without owner write/search (0555) could not be
  // filled by a user other than root, so it is made writable first and gets
  // its exact mode once its content is complete (FinalMode), as `cp -r` does.
  static uint32_t CreationMode(const Item& it) {
    const uint32_t mode = it.st.st_mode & 07777;
    if (::geteuid() == 0) return mode;
    return S_ISDIR(it.st.st_mode) ? (mode | 0700) : (mode | 0200);
  }
  // Gives `inode` its exact mode if CreationMode widened it.
  Status FinalMode(const Item& it, InodeId inode) {
    const uint32_t mode = it.st.st_mode & 07777;
    if (CreationMode(it) == mode) return Status();
    AttrChanges ch;
    ch.mode = mode;
    return client_.SetAttr(inode, ch).status();
  }

  // Copies the local file `fd` into the new file `attr` (its writer, when
  // CreateNew made one), then syncs (unless -n) and closes; then the exact mode.
  Status WriteData(const Item& it, int fd, const Attr& attr, std::unique_ptr<FileWriter> writer,
                   Progress& progress, std::vector<char>& buf) {
    RETURN_IF_ERROR(CopyData(it, fd, attr, std::move(writer), progress, buf));
    return FinalMode(it, attr.inode);
  }

  Status CopyData(const Item& it, int fd, const Attr& attr, std::unique_ptr<FileWriter> writer,
                  Progress& progress, std::vector<char>& buf) {
    if (it.st.st_size == 0 && !writer) return Status();
    if (!writer) {
      ASSIGN_OR_RETURN(writer, client_.OpenWriter(attr.inode));
    }
    writer->SetMtime(MtimeNs(it.st));
    // Sized to the file: zero-filling a 4 MiB buffer for every small file
    // cost more CPU than the rest of its upload.
    buf.resize(static_cast<size_t>(
        std::clamp<uint64_t>(static_cast<uint64_t>(it.st.st_size), kBlockSize, kMaxIoSize)));
    uint64_t off = 0;
    while (true) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status s = LocalError("cannot read", it.local, errno);
        (void)writer->Close();
        return s;
      }
      if (n == 0) break;
      Status s = writer->Write(off, std::span<const char>(buf.data(), static_cast<size_t>(n)));
      if (!s.ok()) {
        (void)writer->Close();
        return s;
      }
      off += static_cast<uint64_t>(n);
      progress.AddBytes(static_cast<uint64_t>(n));
    }
    if (!o_.no_sync) {
      Status s = writer->Sync();
      if (!s.ok()) {
        (void)writer->Close();
        return s;
      }
    }
    return writer->Close();
  }

  Status UploadSymlink(const Item& it, InodeId parent) {
    const std::string name = BaseName(it.path);
    auto made = client_.Symlink(parent, name, it.link_target);
    if (!made.ok() && made.status().code() == ErrorCode::kExists) {
      if (!o_.force) return Exists();
      auto old = client_.Lookup(parent, name);
      if (!old.ok()) return old.status();
      if (old->type == FileType::kDirectory) {
        return Status(ErrorCode::kExists,
                      "already exists as a directory — use `ddbfs rm -r` first");
      }
      RETURN_IF_ERROR(client_.Unlink(parent, name));
      made = client_.Symlink(parent, name, it.link_target);
    }
    return made.status();
  }

  Context& ctx_;
  Client& client_;
  const AddOptions& o_;
  std::vector<Item> items_;
  std::vector<InodeId> inodes_;                 // per item, once created (directories)
  std::map<std::string, InodeId> top_parents_;  // DDBFS parent path -> inode (0: failed)
  uint64_t total_bytes_ = 0;
  uint64_t dirs_ = 0;
};

// The name a source gets inside an existing directory ("x/y/" -> "y",
// "." -> the current directory's name).
std::string SourceName(const std::string& local) {
  std::string base = LocalBaseName(local);
  if (base.empty() || base == "." || base == ".." || base == "/") {
    std::error_code ec;
    base = std::filesystem::weakly_canonical(std::filesystem::absolute(local, ec), ec)
               .filename()
               .string();
  }
  return base;
}

int RunAdd(Context& ctx, AddOptions& o) {
  if (o.args.size() < 2) throw UsageError{"add needs at least one LOCAL path and a DEST"};
  for (const std::string& text : o.tags) {
    Result<Tag> t = ParseTag(text);
    if (!t.ok()) {
      ctx.FailText("-t '" + text + "'", t.status().code(),
                   t.status().message() + " — write TAG or TAG=VALUE, e.g. -t photo -t year=2021");
      return ctx.exit_code();
    }
    o.parsed_tags.push_back(std::move(*t));
  }
  auto dest = NormalizePath(o.args.back());
  if (!dest.ok()) {
    ctx.Fail("", dest.status());
    return ctx.exit_code();
  }
  const std::vector<std::string> sources(o.args.begin(), o.args.end() - 1);
  Client* client = ctx.client();
  if (!client) return ctx.exit_code();
  auto dest_attr = client->ResolvePath(*dest);
  const bool into = dest_attr.ok() && dest_attr->type == FileType::kDirectory;
  if (!dest_attr.ok() && dest_attr.status().code() != ErrorCode::kNotFound) {
    ctx.Fail(*dest, dest_attr.status());
    return ctx.exit_code();
  }
  if (!into && sources.size() > 1) {
    ctx.FailText(*dest, dest_attr.ok() ? ErrorCode::kNotDir : ErrorCode::kNotFound,
                 std::string(dest_attr.ok() ? "is not a directory" : "no such directory") +
                     "; several sources go into an existing directory — create it with `ddbfs "
                     "mkdir -p " +
                     *dest + "`");
    return ctx.exit_code();
  }
  if (!into && !dest_attr.ok() && o.args.back().size() > 1 && o.args.back().back() == '/' &&
      !std::filesystem::is_directory(sources.front())) {
    // `cp a.jpg /new/` refuses too: a trailing slash promises a directory.
    ctx.FailText(*dest, ErrorCode::kNotFound,
                 "no such directory — create it with `ddbfs mkdir -p " + *dest +
                     "`, or drop the trailing '/' to add the file under that name");
    return ctx.exit_code();
  }
  Uploader up(ctx, *client, o);
  for (const auto& src : sources) {
    if (ctx.aborted()) break;
    std::string target = *dest;
    if (into) {
      std::string name = SourceName(src);
      if (name.empty()) {
        ctx.FailText(src, ErrorCode::kInvalidArgument, "cannot add the local root directory");
        continue;
      }
      target = JoinPath(*dest, name);
    }
    if (!up.ResolveTop(target)) continue;
    up.Plan(src, target, kNoParent);
  }
  up.Run();
  return ctx.exit_code();
}

}  // namespace

Command AddCommand() {
  return {
      "add", {"upload", "import"}, "upload local files and trees (like cp -r)", [](CLI::App* app) {
        auto o = std::make_shared<AddOptions>();
        app->add_option("LOCAL... DEST", o->args,
                        "local files/directories, then the DDBFS "
                        "destination")
            ->required();
        app->add_option("-j,--jobs", o->jobs, "parallel uploads (default 16)")
            ->check(CLI::Range(1, 256));
        app->add_flag("-n,--no-sync", o->no_sync,
                      "do not fsync each file on its replicas before finishing it");
        app->add_flag("-f,--force", o->force, "overwrite existing files");
        app->add_option("-t,--tag", o->tags,
                        "tag every uploaded file (repeat: -t photo -t year=2021); set in the "
                        "file's create, so no file is ever there untagged")
            ->allow_extra_args(false);  // one tag per -t: the paths follow
        return Runner([o](Context& ctx) { return RunAdd(ctx, *o); });
      }};
}

}  // namespace ddbfs::cli
