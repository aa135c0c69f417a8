#pragma once

#include <string_view>

namespace ddbfs {

// The one table of error codes. Each row: name, value (== the wire value in
// common/ddbfs.thrift), errno for FUSE, CLI exit code, short text.
#define DDBFS_ERROR_CODES(X)                                 \
  X(kOk, 0, 0, 0, "ok")                                      \
  X(kNotFound, 1, ENOENT, 2, "no such file or directory")    \
  X(kExists, 2, EEXIST, 3, "already exists")                 \
  X(kNotDir, 3, ENOTDIR, 4, "not a directory")               \
  X(kIsDir, 4, EISDIR, 4, "is a directory")                  \
  X(kNotEmpty, 5, ENOTEMPTY, 5, "directory not empty")       \
  X(kInvalidArgument, 6, EINVAL, 6, "invalid argument")      \
  X(kNameTooLong, 7, ENAMETOOLONG, 6, "name too long")       \
  X(kNoSpace, 8, ENOSPC, 7, "no space left")                 \
  X(kIoError, 9, EIO, 8, "input/output error")               \
  X(kChecksumMismatch, 10, EIO, 8, "checksum mismatch")      \
  X(kStaleVersion, 11, EIO, 8, "stale replica")              \
  X(kUnavailable, 12, EHOSTUNREACH, 9, "unavailable")        \
  X(kPermissionDenied, 13, EACCES, 10, "permission denied")  \
  X(kInternal, 14, EIO, 11, "internal error")                \
  X(kNotSupported, 15, EOPNOTSUPP, 12, "not supported")      \
  X(kBusy, 16, EBUSY, 13, "busy")                            \
  X(kTimedOut, 17, ETIMEDOUT, 14, "timed out")               \
  X(kLeaseExpired, 18, EIO, 8, "write lease lost")           \
  X(kNotPermitted, 19, EPERM, 10, "operation not permitted") \
  X(kReadOnly, 20, EROFS, 10, "read-only export")            \
  X(kUnauthenticated, 21, EACCES, 15, "not authenticated")   \
  X(kCapabilityExpired, 22, EIO, 8, "capability expired")    \
  X(kNoData, 23, ENODATA, 2, "no such attribute")            \
  X(kTooManyOpen, 24, ENFILE, 16, "too many open files")

enum class ErrorCode : int {
#define DDBFS_ENUM_ROW(name, value, err, exit_code, text) name = value,
  DDBFS_ERROR_CODES(DDBFS_ENUM_ROW)
#undef DDBFS_ENUM_ROW
};

// errno a FUSE reply should carry for `code` (0 for kOk).
int ErrnoFor(ErrorCode code);
// Process exit code the CLI uses for `code` (0 for kOk).
int ExitCodeFor(ErrorCode code);
// Short lower-case description ("no such file or directory").
std::string_view Describe(ErrorCode code);
// "kNotFound" style name, for logs and tests.
std::string_view NameOf(ErrorCode code);
// Maps a wire value back; unknown values become kInternal.
ErrorCode ErrorCodeFromInt(int value);

}  // namespace ddbfs
