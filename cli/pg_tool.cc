#include "pg_tool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

extern char** environ;

namespace ddbfs::cli {

namespace {

bool Executable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// An unlinked temporary file for a child's standard error.
Result<int> TempErrFile() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/ddbfs-pgtool-XXXXXX";
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0)
    return IoError("cannot create a temporary file in " + path + ": " + std::strerror(errno));
  ::unlink(path.c_str());
  return fd;
}

std::string ReadAllFrom(int fd) {
  std::string out;
  if (::lseek(fd, 0, SEEK_SET) < 0) return out;
  char buf[4096];
  while (out.size() < (1u << 20)) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// The line that says what went wrong: the first with "error" or "ERROR"
// (pg_dump: error: ..., psql:<stdin>:12: ERROR:  ...), else the last one.
std::string ErrorLine(const std::string& err) {
  std::istringstream in(err);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.find("error") != std::string::npos || line.find("ERROR") != std::string::npos ||
        line.find("FATAL") != std::string::npos) {
      return line;
    }
    last = line;
  }
  return last;
}

}  // namespace

Result<std::string> FindPgProgram(const std::string& name) {
  if (const char* dir = std::getenv("DDBFS_PG_BIN"); dir && *dir) {
    std::string path = std::string(dir) + "/" + name;
    if (Executable(path)) return path;
    return NotFound(name + " is not in DDBFS_PG_BIN (" + dir +
                    ") — point DDBFS_PG_BIN at PostgreSQL's bin folder");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty() && Executable(dir + "/" + name)) return dir + "/" + name;
    start = end + 1;
  }
  return NotFound(name +
                  " not found on PATH — install PostgreSQL's client programs "
                  "(apt-get install postgresql-client) or set DDBFS_PG_BIN");
}

std::string UrlWithoutPassword(const std::string& url) {
  static const std::regex kUrlPassword(R"(^([a-z]+://[^:/@]*):[^@/]*@)");
  static const std::regex kKeywordPassword(R"(password\s*=\s*('[^']*'|\S+))");
  std::string out = std::regex_replace(url, kUrlPassword, "$1@");
  return std::regex_replace(out, kKeywordPassword, "password=***");
}

std::string FirstLineOf(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

Result<std::string> DatabaseUrl(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DDBFS_DB"); env && *env) return std::string(env);
  return InvalidArgument(
      "no metadata database given — give --db URL (the metaserver's --db, e.g. "
      "postgresql://ddbfs@dbhost:5432/ddbfs; the password from PGPASSFILE or ~/.pgpass) or set "
      "DDBFS_DB");
}

Status FileError(const std::string& what, const std::string& path, int err,
                 const std::string& hint) {
  ErrorCode code = ErrorCode::kIoError;
  if (err == ENOENT || err == ENOTDIR) code = ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM || err == EROFS) code = ErrorCode::kPermissionDenied;
  if (err == ENOSPC || err == EDQUOT) code = ErrorCode::kNoSpace;
  if (err == EISDIR) code = ErrorCode::kIsDir;
  return Status(code, what + " " + path + ": " + std::strerror(err) + " — " + hint);
}

Result<std::unique_ptr<PgTool>> PgTool::Start(const std::vector<std::string>& argv, int stdin_fd,
                                              int stdout_fd) {
  if (argv.empty()) return Internal("PgTool::Start without a program");
  ASSIGN_OR_RETURN(std::string program, FindPgProgram(argv[0]));
  ASSIGN_OR_RETURN(int err_fd, TempErrFile());
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(err_fd);
    return IoError(std::string("cannot open /dev/null: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd >= 0 ? stdin_fd : null_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd >= 0 ? stdout_fd : null_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  std::vector<char*> args;
  args.push_back(program.data());
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  for (std::string& a : rest) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(null_fd);
  if (rc != 0) {
    ::close(err_fd);
    return IoError("cannot run " + program + ": " + std::strerror(rc));
  }
  return std::unique_ptr<PgTool>(new PgTool(argv[0], pid, err_fd));
}

PgTool::~PgTool() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (err_fd_ >= 0) ::close(err_fd_);
}

void PgTool::Kill() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

Status PgTool::Wait() {
  if (pid_ <= 0) return Internal(name_ + " was already waited for");
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (r < 0) return IoError("cannot wait for " + name_ + ": " + std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status();
  std::string line = ErrorLine(ReadAllFrom(err_fd_));
  if (line.empty()) {
    line = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                               : "exit status " + std::to_string(WEXITSTATUS(status));
  }
  // Its own prefix ("pg_dump: error: ") says which program it was.
  if (line.rfind(name_, 0) != 0) line = name_ + ": " + line;
  const bool no_server = line.find("connection to server") != std::string::npos ||
                         line.find("could not connect") != std::string::npos;
  return Status(no_server ? ErrorCode::kUnavailable : ErrorCode::kIoError, line);
}

}  // namespace ddbfs::cli
