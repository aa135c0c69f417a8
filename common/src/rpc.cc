#include "ddbfs/rpc.h"

#include <charconv>

namespace ddbfs {

// The wire enum and ddbfs::ErrorCode are one table in two languages.
#define DDBFS_CHECK_ROW(name, value, err, exit_code, text) \
  static_assert(static_cast<int>(ErrorCode::name) == value);
DDBFS_ERROR_CODES(DDBFS_CHECK_ROW)
#undef DDBFS_CHECK_ROW
static_assert(rpc::ErrorCode::NOT_FOUND == static_cast<int>(ErrorCode::kNotFound));
static_assert(rpc::ErrorCode::CHECKSUM_MISMATCH == static_cast<int>(ErrorCode::kChecksumMismatch));
static_assert(rpc::ErrorCode::NOT_SUPPORTED == static_cast<int>(ErrorCode::kNotSupported));

Status FromRpc(const rpc::RpcStatus& s) {
  ErrorCode code = ErrorCodeFromInt(static_cast<int>(s.code));
  if (code == ErrorCode::kOk) return Status();
  return Status(code, s.message);
}

rpc::RpcStatus ToRpc(const Status& s) {
  rpc::RpcStatus out;
  out.code = static_cast<rpc::ErrorCode::type>(static_cast<int>(s.code()));
  if (!s.ok()) out.message = s.ToString();
  return out;
}

Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("address '" + text + "' is not HOST:PORT");
  }
  int p = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, p);
  if (ec != std::errc() || ptr != end || p <= 0 || p > 65535) {
    return InvalidArgument("address '" + text + "' has a bad port (want 1-65535)");
  }
  *host = text.substr(0, colon);
  *port = p;
  return Status();
}

}  // namespace ddbfs
