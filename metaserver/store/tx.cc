#include "metaserver/store/tx.h"

#include <cstring>

#include "ddbfs/log.h"
#include "metaserver/store/tag_index.h"

namespace ddbfs::meta::store {

bool ChangesChunkMaps(const Statement& s) {
  return std::strstr(s.sql, "ddbfs.chunks") != nullptr ||
         std::strstr(s.sql, "ddbfs.replicas") != nullptr;
}

Tx::~Tx() {
  if (cache_ != nullptr && !changes_.empty()) cache_->Apply(changes_, /*committed=*/false);
}

void Tx::CacheCommitted() {
  if (cache_ == nullptr || changes_.empty()) return;
  cache_->Apply(changes_, /*committed=*/true);
  changes_ = MetaCache::Changes();
}

void Tx::RunAfterCommit() {
  for (auto& f : after_commit_) {
    try {
      f();
    } catch (const std::exception& e) {
      LOG(kError) << "tag index update failed (" << e.what() << "); loading it again";
      tag_index_->Invalidate();
    }
  }
  after_commit_.clear();
}

DbError ClassifyDbError(std::exception_ptr error) {
  DbError out;
  auto unavailable = [&](const char* what) {
    out.broken = true;
    out.status = Unavailable(std::string(kDatabaseUnavailable) + " (" + FirstLine(what) + ")");
  };
  try {
    std::rethrow_exception(error);
  } catch (const pqxx::broken_connection& e) {
    unavailable(e.what());
  } catch (const pqxx::in_doubt_error& e) {
    unavailable(e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    // Class 08: connection exceptions; 57P0x: the server is shutting down.
    if (state.rfind("08", 0) == 0 || state.rfind("57P0", 0) == 0) {
      unavailable(e.what());
    } else if (state == "57014" || state == "55P03") {
      // statement_timeout (query_canceled) or lock_timeout (lock_not_available).
      out.timed_out = true;
      out.status = Status(ErrorCode::kTimedOut,
                          std::string(kDatabaseTimedOut) + " (" + FirstLine(e.what()) + ")");
    } else {
      out.retryable = state == "40001" || state == "40P01";
      out.status = Internal("database error " + state + ": " + FirstLine(e.what()));
    }
  } catch (const std::exception& e) {
    out.status = Internal(std::string("database error: ") + FirstLine(e.what()));
  } catch (...) {
    out.status = Internal("database error: unknown exception");
  }
  return out;
}

Status Tx::Fail(std::exception_ptr error) {
  DbError e = ClassifyDbError(error);
  if (!e.broken && !e.retryable && !e.timed_out) {
    LOG(kError) << e.status.message();
  }
  broken_ = e.broken;
  retryable_ = e.retryable;
  timed_out_ = e.timed_out;
  failure_ = e.status;
  return e.status;
}

namespace {
template <typename T>
std::string JoinNumbers(const std::vector<T>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}
}  // namespace

std::string PgArray(const std::vector<int64_t>& values) { return JoinNumbers(values); }
std::string PgArray(const std::vector<int32_t>& values) { return JoinNumbers(values); }

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace ddbfs::meta::store
