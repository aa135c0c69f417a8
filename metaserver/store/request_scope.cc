#include "metaserver/store/request_scope.h"

#include <string>

namespace ddbfs::meta::store {

namespace {
thread_local Deadline current_deadline = kNoDeadline;
}  // namespace

Deadline CurrentDeadline() { return current_deadline; }

DeadlineScope::DeadlineScope(Deadline deadline) : previous_(current_deadline) {
  current_deadline = deadline;
}

DeadlineScope::~DeadlineScope() { current_deadline = previous_; }

Status DeadlinePassed(const char* what) {
  return Status(ErrorCode::kTimedOut,
                std::string(what) + ": the request's deadline passed before it could run");
}

}  // namespace ddbfs::meta::store
