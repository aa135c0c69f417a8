// ddbfs backup [--db URL] FILE: a consistent dump of the metadata
// (docs/backup.md). The CLI talks to PostgreSQL itself, not to the
// metaserver: it opens a REPEATABLE READ transaction, exports its snapshot,
// reads the header's figures in it, and runs pg_dump on that same snapshot,
// so the header and the archive describe one moment. The file is written
// as FILE.partial and renamed when complete and synced.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "backup_file.h"
#include "command.h"
#include "ddbfs/auth.h"
#include "ddbfs/content_hash.h"
#include "format.h"
#include "pg_tool.h"

namespace ddbfs::cli {

namespace {

struct BackupArgs {
  std::string file;
  std::string db;
};

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError("cannot write", path, errno, "choose another place for the backup");
    done += static_cast<size_t>(n);
  }
  return Status();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Removes the partial file unless Keep() was called.
class PartialFile {
 public:
  PartialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  Status Close() {
    int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      return FileError("cannot sync", path_, errno, "choose another place for the backup");
    }
    return Status();
  }
  void Keep() { kept_ = true; }

 private:
  std::string path_;
  int fd_;
  bool kept_ = false;
};

// The header's figures and the archive, from one exported snapshot.
Result<BackupHeader> Dump(const std::string& url, int fd, const std::string& path) {
  try {
    pqxx::connection conn(url);
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn, "backup");
    pqxx::row first = tx.exec1(
        "SELECT pg_export_snapshot(),"
        " (extract(epoch FROM statement_timestamp()) * 1000)::bigint, current_database(),"
        " current_setting('server_version_num')::bigint,"
        " to_regclass('ddbfs.inodes') IS NOT NULL, to_regnamespace('ddbfs_secret') IS NOT NULL");
    const std::string snapshot = first[0].as<std::string>();
    BackupHeader h;
    h.taken_unix_ms = first[1].as<int64_t>();
    h.database = first[2].as<std::string>();
    h.server_version_num = first[3].as<int64_t>();
    if (!first[4].as<bool>()) {
      return NotFound("database " + h.database +
                      " holds no DDBFS metadata (no table ddbfs.inodes) — give the "
                      "metaserver's --db URL");
    }
    const bool secrets = first[5].as<bool>();
    pqxx::row figures = tx.exec1(
        "SELECT (SELECT max(version) FROM ddbfs.schema_migrations),"
        " (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ddbfs.chunk_ids),"
        " count(*) FILTER (WHERE type = 1), count(*) FILTER (WHERE type = 2),"
        " COALESCE(sum(size) FILTER (WHERE type = 1), 0)::bigint FROM ddbfs.inodes");
    h.schema_version = figures[0].as<int64_t>();
    h.last_chunk_id = figures[1].as<int64_t>();
    h.files = figures[2].as<int64_t>();
    h.directories = figures[3].as<int64_t>();
    h.data_bytes = figures[4].as<int64_t>();

    // A placeholder header; the real one (with the archive's size and
    // checksum) is written over it at the end.
    BackupHeader placeholder = h;
    placeholder.archive_sha256 = std::string(64, '0');
    ASSIGN_OR_RETURN(std::string head, FormatBackupHeader(placeholder));
    RETURN_IF_ERROR(WriteAll(fd, head, path));

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return IoError(std::string("cannot make a pipe: ") + std::strerror(errno));
    }
    std::vector<std::string> argv{
        "pg_dump",        "--format=custom",           "--snapshot=" + snapshot,
        "--schema=ddbfs", "--lock-wait-timeout=60000", "--dbname=" + url};
    if (secrets) argv.insert(argv.begin() + 4, "--schema=ddbfs_secret");
    auto tool = PgTool::Start(argv, -1, pipe_fds[1]);
    ::close(pipe_fds[1]);
    if (!tool.ok()) {
      ::close(pipe_fds[0]);
      return tool.status();
    }
    Sha256 sha;
    Status written;
    std::string buf(1 << 20, '\0');
    while (true) {
      ssize_t n = ::read(pipe_fds[0], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::string_view piece(buf.data(), static_cast<size_t>(n));
      sha.Update(piece);
      if (written.ok()) written = WriteAll(fd, piece, path);
      if (!written.ok()) break;
    }
    ::close(pipe_fds[0]);
    Status dumped = (*tool)->Wait();
    RETURN_IF_ERROR(written);
    RETURN_IF_ERROR(dumped);
    if (sha.length() == 0) return IoError("pg_dump wrote nothing");
    h.archive_bytes = sha.length();
    h.archive_sha256 = ToHex(sha.Digest());
    ASSIGN_OR_RETURN(head, FormatBackupHeader(h));
    if (::pwrite(fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) {
      return FileError("cannot write", path, errno, "choose another place for the backup");
    }
    tx.commit();
    return h;
  } catch (const pqxx::broken_connection& e) {
    return Unavailable("cannot connect to PostgreSQL at " + UrlWithoutPassword(url) + ": " +
                       FirstLineOf(e.what()) + " — is --db the metaserver's database URL?");
  } catch (const std::exception& e) {
    return IoError("PostgreSQL at " + UrlWithoutPassword(url) + ": " + FirstLineOf(e.what()));
  }
}

int RunBackup(Context& ctx, const BackupArgs& a) {
  auto url = DatabaseUrl(a.db);
  if (!url.ok()) {
    ctx.Fail("", url.status());
    return ctx.exit_code();
  }
  struct stat st;
  if (::stat(a.file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    ctx.Fail(a.file, FileError("cannot write", a.file, EISDIR, "give the backup file's name"));
    return ctx.exit_code();
  }
  const std::string partial = a.file + ".partial";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ctx.Fail(a.file, FileError("cannot write", partial, errno,
                               "choose a folder you can write to for the backup"));
    return ctx.exit_code();
  }
  PartialFile out(partial, fd);
  Result<BackupHeader> h = Dump(*url, fd, partial);
  Status s = h.ok() ? out.Close() : h.status();
  if (s.ok() && ::rename(partial.c_str(), a.file.c_str()) != 0) {
    s = FileError("cannot rename", partial, errno, "choose another place for the backup");
  }
  if (!s.ok()) {
    ctx.Fail(a.file, s);
    return ctx.exit_code();
  }
  out.Keep();
  // The rename is durable once the folder is synced.
  if (int dir = ::open(DirOf(a.file).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  if (!ctx.quiet()) {
    std::cout << a.file << ": " << HumanBytes(kBackupHeaderBytes + h->archive_bytes) << ", taken "
              << UtcTime(h->taken_unix_ms) << " (" << h->files << " files, "
              << HumanBytes(static_cast<uint64_t>(h->data_bytes)) << " of data, schema version "
              << h->schema_version << ")" << std::endl;
  }
  return ctx.exit_code();
}

}  // namespace

Command BackupCommand() {
  return {"backup",
          {},
          "FILE: a consistent dump of the metadata (one PostgreSQL snapshot; needs the "
          "database's URL, not the metaserver; docs/backup.md)",
          [](CLI::App* app) {
            auto a = std::make_shared<BackupArgs>();
            app->add_option("FILE", a->file, "the backup file to write (replaced when complete)")
                ->required();
            app->add_option("--db", a->db,
                            "PostgreSQL URL of the metadata (the metaserver's --db; default "
                            "$DDBFS_DB)");
            return Runner([=](Context& ctx) { return RunBackup(ctx, *a); });
          }};
}

}  // namespace ddbfs::cli
