// ddbfs restore [--db URL] [--force] FILE: loads a backup of `ddbfs backup`
// into the metadata database, all or nothing (docs/backup.md, "Restore").
//
// Before anything changes: the file must be a complete DDBFS backup (its
// header, size and SHA-256), pg_restore must read its archive, no other
// session may be connected to the database (stop every metaserver first),
// and the database must hold no DDBFS metadata unless --force. Then one
// psql transaction drops the schemas ddbfs and ddbfs_secret, replays the
// archive (pg_restore's SQL, streamed), moves the id sequences past every
// id the chunk servers or clients may hold from after the backup, ends the
// write leases the backup caught open, and checks the files counted in the
// header; a failure anywhere rolls all of it back.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
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

// Sequences of ids that chunk servers (chunk ids) or clients (inodes,
// leases, sessions) may hold from the time after the backup: moved past
// anything that can have been handed out since (docs/backup.md, "Ids").
constexpr const char* kSequences[] = {"chunk_ids", "inode_ids", "lease_ids", "client_session_ids"};
// Ids a sequence may have handed out per second since the backup was
// taken (a million chunks per second is 64 TiB/s of new chunks), and a
// minute's worth more for clocks that disagree.
constexpr int64_t kIdsPerSecond = int64_t{1} << 20;
constexpr int64_t kClockSlackS = 60;

struct RestoreArgs {
  std::string file;
  std::string db;
  bool force = false;
};

// The database as it is before the restore.
struct Target {
  std::string name;
  int64_t other_sessions = 0;
  std::string who;  // their application names or users
  bool has_metadata = false;
  int64_t files = 0;
  int64_t schema_version = 0;
  std::map<std::string, int64_t> last_ids;  // sequence -> last value
};

Status ReadFull(int fd, char* buf, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return FileError("cannot read", path, errno, "check the backup file");
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  if (done < n) {
    return InvalidArgument(path + " is not a DDBFS backup (" + std::to_string(done) +
                           " bytes) — give a file made by ddbfs backup");
  }
  return Status();
}

// Header, size and checksum; leaves the file positioned after the header.
Result<BackupHeader> CheckFile(int fd, const std::string& path) {
  std::string head(kBackupHeaderBytes, '\0');
  RETURN_IF_ERROR(ReadFull(fd, head.data(), head.size(), path));
  auto h = ParseBackupHeader(head);
  if (!h.ok()) {
    return InvalidArgument(path + ": " + h.status().message() +
                           " — give a file made by ddbfs backup");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return FileError("cannot read", path, errno, "check the backup file");
  const uint64_t archive = static_cast<uint64_t>(st.st_size) - kBackupHeaderBytes;
  if (archive != h->archive_bytes) {
    return InvalidArgument(path + " is truncated or damaged: its archive has " +
                           std::to_string(archive) + " bytes, its header says " +
                           std::to_string(h->archive_bytes) + " — give a complete backup");
  }
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError("cannot read", path, errno, "check the backup file");
    if (n == 0) break;
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  if (ToHex(sha.Digest()) != h->archive_sha256) {
    return InvalidArgument(path +
                           " is damaged: its archive's SHA-256 does not match its header"
                           " — give an intact backup");
  }
  if (::lseek(fd, kBackupHeaderBytes, SEEK_SET) < 0) {
    return FileError("cannot read", path, errno, "check the backup file");
  }
  return h;
}

// pg_restore reads the archive's table of contents.
Status CheckArchive(int fd, const std::string& path) {
  ASSIGN_OR_RETURN(auto tool, PgTool::Start({"pg_restore", "--list"}, fd, -1));
  Status s = tool->Wait();
  if (::lseek(fd, kBackupHeaderBytes, SEEK_SET) < 0) {
    return FileError("cannot read", path, errno, "check the backup file");
  }
  if (!s.ok()) {
    return InvalidArgument(path + ": pg_restore cannot read its archive (" + s.message() +
                           ") — give a backup made by ddbfs backup");
  }
  return Status();
}

Result<Target> Inspect(const std::string& url) {
  try {
    pqxx::connection conn(url);
    pqxx::work tx(conn, "inspect");
    Target t;
    pqxx::row r = tx.exec1(
        "SELECT current_database(), count(a.pid),"
        " COALESCE(string_agg(DISTINCT COALESCE(NULLIF(a.application_name, ''), a.usename::text,"
        "   a.backend_type), ', '), ''),"
        " to_regclass('ddbfs.inodes') IS NOT NULL"
        " FROM (SELECT 1) one LEFT JOIN pg_stat_activity a"
        "   ON a.datname = current_database() AND a.pid <> pg_backend_pid()"
        "   AND a.backend_type = 'client backend'");
    t.name = r[0].as<std::string>();
    t.other_sessions = r[1].as<int64_t>();
    t.who = r[2].as<std::string>();
    t.has_metadata = r[3].as<bool>();
    if (t.has_metadata) {
      pqxx::row m = tx.exec1(
          "SELECT count(*) FILTER (WHERE type = 1),"
          " (SELECT COALESCE(max(version), 0) FROM ddbfs.schema_migrations)"
          " FROM ddbfs.inodes");
      t.files = m[0].as<int64_t>();
      t.schema_version = m[1].as<int64_t>();
    }
    for (const char* seq : kSequences) {
      const std::string name = std::string("ddbfs.") + seq;
      pqxx::row e = tx.exec1("SELECT to_regclass(" + tx.quote(name) + ") IS NOT NULL");
      if (!e[0].as<bool>()) continue;
      pqxx::row v = tx.exec1("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM " + name);
      t.last_ids[seq] = v[0].as<int64_t>();
    }
    return t;
  } catch (const pqxx::broken_connection& e) {
    return Unavailable("cannot connect to PostgreSQL at " + UrlWithoutPassword(url) + ": " +
                       FirstLineOf(e.what()) + " — is --db the metadata database's URL?");
  } catch (const std::exception& e) {
    return IoError("PostgreSQL at " + UrlWithoutPassword(url) + ": " + FirstLineOf(e.what()));
  }
}

// What psql runs before the archive's SQL.
std::string Prelude() {
  // A session that connected after the check and holds the tables makes
  // the DROP fail after lock_timeout instead of waiting for ever.
  return "SET client_min_messages = warning;\n"
         "SET lock_timeout = '30s';\n"
         "DROP SCHEMA IF EXISTS ddbfs CASCADE;\n"
         "DROP SCHEMA IF EXISTS ddbfs_secret CASCADE;\n";
}

// What psql runs after it, still in the one transaction.
std::string Postlude(const BackupHeader& h, const Target& t, int64_t now_ms) {
  const int64_t since_s = std::max<int64_t>(0, (now_ms - h.taken_unix_ms) / 1000);
  const int64_t gap = (since_s + kClockSlackS) * kIdsPerSecond;
  std::string sql = "\n-- ddbfs restore\n";
  for (const char* seq : kSequences) {
    const std::string name = std::string("ddbfs.") + seq;
    auto old = t.last_ids.find(seq);
    const int64_t before = old == t.last_ids.end() ? 0 : old->second;
    sql += "DO $ddbfs$ BEGIN IF pg_catalog.to_regclass('" + name +
           "') IS NOT NULL THEN EXECUTE 'SELECT pg_catalog.setval(''" + name +
           "'', GREATEST((SELECT last_value FROM " + name + "), " + std::to_string(before) +
           ") + " + std::to_string(gap) + ")'; END IF; END $ddbfs$;\n";
  }
  sql +=
      "UPDATE ddbfs.chunks SET lease_id = NULL, lease_expires_ms = NULL"
      " WHERE lease_id IS NOT NULL;\n"
      "DO $ddbfs$ DECLARE n bigint; BEGIN\n"
      "  SELECT count(*) INTO n FROM ddbfs.inodes WHERE type = 1;\n"
      "  IF n <> " +
      std::to_string(h.files) + " THEN RAISE EXCEPTION 'restored % files, the backup header says " +
      std::to_string(h.files) +
      "', n; END IF;\n"
      "END $ddbfs$;\n";
  return sql;
}

Status WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(std::string("psql stopped reading: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status();
}

// pg_restore (archive -> SQL) piped into psql (one transaction), with our
// SQL before and after. psql commits only when its input ends cleanly: if
// pg_restore fails, psql is killed first, so its transaction rolls back.
Status Load(int fd, const std::string& url, const std::string& prelude,
            const std::string& postlude) {
  int from_restore[2], to_psql[2];
  if (::pipe2(from_restore, O_CLOEXEC) != 0) {
    return IoError(std::string("cannot make a pipe: ") + std::strerror(errno));
  }
  if (::pipe2(to_psql, O_CLOEXEC) != 0) {
    ::close(from_restore[0]);
    ::close(from_restore[1]);
    return IoError(std::string("cannot make a pipe: ") + std::strerror(errno));
  }
  auto psql = PgTool::Start({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                             "--dbname=" + url, "-f", "-"},
                            to_psql[0], -1);
  ::close(to_psql[0]);
  auto restore = psql.ok() ? PgTool::Start({"pg_restore", "--file=-"}, fd, from_restore[1])
                           : Result<std::unique_ptr<PgTool>>(psql.status());
  ::close(from_restore[1]);
  if (!psql.ok() || !restore.ok()) {
    ::close(from_restore[0]);
    ::close(to_psql[1]);
    return psql.ok() ? restore.status() : psql.status();
  }
  Status piped = WriteAll(to_psql[1], prelude);
  std::string buf(1 << 20, '\0');
  while (piped.ok()) {
    ssize_t n = ::read(from_restore[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    piped = WriteAll(to_psql[1], std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(from_restore[0]);
  Status restored = (*restore)->Wait();
  if (!piped.ok() || !restored.ok()) {
    // Killed before its input ends, so it cannot commit; if it stopped on
    // an error of its own (why the pipe broke), that error is the answer.
    (*psql)->Kill();
    ::close(to_psql[1]);
    Status own = (*psql)->Wait();
    if (!piped.ok())
      return own.message().find("killed by signal") == std::string::npos ? own : piped;
    return restored;
  }
  if (piped.ok()) piped = WriteAll(to_psql[1], postlude);
  ::close(to_psql[1]);
  Status loaded = (*psql)->Wait();
  RETURN_IF_ERROR(loaded);
  return piped;
}

int RunRestore(Context& ctx, const RestoreArgs& a) {
  auto url = DatabaseUrl(a.db);
  if (!url.ok()) {
    ctx.Fail("", url.status());
    return ctx.exit_code();
  }
  // psql may stop reading (an error): a write then fails instead of killing us.
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ctx.Fail("", FileError("cannot read", a.file, errno, "give a file made by ddbfs backup"));
    return ctx.exit_code();
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto header = CheckFile(fd, a.file);
  Status s = header.ok() ? CheckArchive(fd, a.file) : header.status();
  if (!s.ok()) {
    ctx.Fail("", s);
    return ctx.exit_code();
  }
  auto target = Inspect(*url);
  if (!target.ok()) {
    ctx.Fail("", target.status());
    return ctx.exit_code();
  }
  if (target->other_sessions > 0) {
    ctx.Fail("",
             Status(ErrorCode::kBusy,
                    "database " + target->name + " has " + std::to_string(target->other_sessions) +
                        " other session(s) (" + target->who +
                        ") — stop every metaserver (and other clients of the database) "
                        "before a restore; nothing was changed"));
    return ctx.exit_code();
  }
  if (target->has_metadata && !a.force) {
    ctx.Fail("", AlreadyExists("database " + target->name + " already holds DDBFS metadata (" +
                               std::to_string(target->files) + " files, schema version " +
                               std::to_string(target->schema_version) +
                               ") — restore into an empty database, or give --force to replace "
                               "it; nothing was changed"));
    return ctx.exit_code();
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  s = Load(fd, *url, Prelude(), Postlude(*header, *target, now_ms));
  if (!s.ok()) {
    ctx.Fail("", Status(s.code(), "restore of " + a.file + " failed, nothing was changed: " +
                                      s.message() + " — see docs/backup.md"));
    return ctx.exit_code();
  }
  if (!ctx.quiet()) {
    std::cout << "restored " << a.file << " (taken " << UtcTime(header->taken_unix_ms) << ", "
              << header->files << " files) into database " << target->name
              << "; now start the metaserver and run ddbfs fsck" << std::endl;
  }
  return ctx.exit_code();
}

}  // namespace

Command RestoreCommand() {
  return {"restore",
          {},
          "FILE: load a backup of ddbfs backup into the metadata database, all or nothing; the "
          "metaserver must be stopped (docs/backup.md)",
          [](CLI::App* app) {
            auto a = std::make_shared<RestoreArgs>();
            app->add_option("FILE", a->file, "a backup file made by ddbfs backup")->required();
            app->add_option("--db", a->db,
                            "PostgreSQL URL of the metadata (the metaserver's --db; default "
                            "$DDBFS_DB)");
            app->add_flag("--force", a->force,
                          "replace the metadata the database holds (it is lost, unless you "
                          "backed it up)");
            return Runner([=](Context& ctx) { return RunRestore(ctx, *a); });
          }};
}

}  // namespace ddbfs::cli
