#pragma once

// The PostgreSQL client programs that `ddbfs backup` and `ddbfs restore`
// run (pg_dump, pg_restore, psql; docs/backup.md). A program is found in
// $DDBFS_PG_BIN when set, else on PATH. Its standard input and output are
// descriptors the caller gives; its standard error goes to an unlinked
// temporary file, whose first error line becomes the Status of Wait().
//
// Not thread-safe: one thread starts and waits for a PgTool.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "ddbfs/status.h"

namespace ddbfs::cli {

class PgTool {
 public:
  // Starts argv (argv[0]: the program's name, looked up as above) with
  // stdin_fd and stdout_fd as its standard input and output (-1:
  // /dev/null). The child gets no other descriptor of ours (every one we
  // open is close-on-exec); the caller closes its own pipe ends.
  static Result<std::unique_ptr<PgTool>> Start(const std::vector<std::string>& argv, int stdin_fd,
                                               int stdout_fd);
  // Kills the program if it still runs, and reaps it.
  ~PgTool();
  PgTool(const PgTool&) = delete;
  PgTool& operator=(const PgTool&) = delete;

  // Waits for it to exit: OK on exit status 0, else an error whose message
  // is "<program>: <its first error line>" (kUnavailable when it could not
  // connect to the server, else kIoError).
  Status Wait();
  // Sends SIGKILL (nothing if it exited already); Wait() reaps it.
  void Kill();

  const std::string& name() const { return name_; }

 private:
  PgTool(std::string name, pid_t pid, int err_fd)
      : name_(std::move(name)), pid_(pid), err_fd_(err_fd) {}

  std::string name_;
  pid_t pid_ = -1;  // -1 once reaped
  int err_fd_ = -1;
};

// The path of the program `name`, or kNotFound with what to install.
Result<std::string> FindPgProgram(const std::string& name);

// A libpq connection URL without its password (for messages).
std::string UrlWithoutPassword(const std::string& url);

// The first line of an exception's or a program's text, trimmed.
std::string FirstLineOf(const std::string& text);

// The metadata database: `flag` (--db) when given, else $DDBFS_DB; kInvalidArgument
// with what to do when neither is set.
Result<std::string> DatabaseUrl(const std::string& flag);

// An error from errno of an operation on a local file: "<what> <path>: <strerror>".
Status FileError(const std::string& what, const std::string& path, int err,
                 const std::string& hint);

}  // namespace ddbfs::cli
