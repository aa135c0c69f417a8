#include "ddbfs/error_code.h"

#include <cerrno>

namespace ddbfs {

namespace {
struct Row {
  ErrorCode code;
  int err;
  int exit_code;
  std::string_view text;
  std::string_view name;
};

constexpr Row kRows[] = {
#define DDBFS_ROW(name, value, err, exit_code, text) {ErrorCode::name, err, exit_code, text, #name},
    DDBFS_ERROR_CODES(DDBFS_ROW)
#undef DDBFS_ROW
};

const Row& RowFor(ErrorCode code) {
  for (const Row& r : kRows) {
    if (r.code == code) return r;
  }
  return RowFor(ErrorCode::kInternal);
}
}  // namespace

int ErrnoFor(ErrorCode code) { return RowFor(code).err; }
int ExitCodeFor(ErrorCode code) { return RowFor(code).exit_code; }
std::string_view Describe(ErrorCode code) { return RowFor(code).text; }
std::string_view NameOf(ErrorCode code) { return RowFor(code).name; }

ErrorCode ErrorCodeFromInt(int value) {
  for (const Row& r : kRows) {
    if (static_cast<int>(r.code) == value) return r.code;
  }
  return ErrorCode::kInternal;
}

}  // namespace ddbfs
