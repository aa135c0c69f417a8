#include "ddbfs/status.h"

namespace ddbfs {

std::string Status::ToString() const {
  if (ok()) return "ok";
  if (message_.empty()) return std::string(Describe(code_));
  return message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + ToString());
}

std::ostream& operator<<(std::ostream& os, const Status& s) {
  return os << NameOf(s.code()) << " (" << s.ToString() << ")";
}

}  // namespace ddbfs
