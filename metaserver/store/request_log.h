#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/status.h"

namespace ddbfs::meta::store {

class Tx;

// The request log (sql/003_request_log.sql): the first answer of every
// mutation sent with a request id, written in the transaction of the
// mutation itself, so that a retry gets that answer back instead of running
// the mutation again (docs/metadata.md, "Exactly-once mutations"). Only the
// writer uses these functions.

// A request id: the client's 16 random bytes and its number for one call.
struct RequestKey {
  std::string client_id;  // exactly kClientIdBytes bytes
  int64_t seq = 0;

  bool operator<(const RequestKey& o) const {
    return client_id != o.client_id ? client_id < o.client_id : seq < o.seq;
  }
};
inline constexpr size_t kClientIdBytes = 16;

// A recorded answer: the method that gave it and the serialized response.
struct LoggedAnswer {
  std::string rpc;
  std::string response;
};

// The answers recorded for any of `keys`, in one statement.
Result<std::map<RequestKey, LoggedAnswer>> FindAnswers(Tx& tx, const std::vector<RequestKey>& keys);

// The highest seq recorded for each of `client_ids` (0: none), in one
// statement.
Result<std::map<std::string, int64_t>> HighestRecordedSeqs(
    Tx& tx, const std::vector<std::string>& client_ids);

// The statement that records answers (one for all of them), as SQL text
// with its values quoted for `txn`'s connection, ending with ';' (empty for
// no answers): the writer sends it with its COMMIT (WriterTxn), in one round
// trip.
std::string RecordAnswersSql(const pqxx::transaction_base& txn,
                             const std::vector<std::pair<RequestKey, LoggedAnswer>>& answers);

// Deletes up to `limit` answers older than `retention`; returns how many.
Result<int64_t> PruneAnswers(Tx& tx, std::chrono::seconds retention, int limit);

}  // namespace ddbfs::meta::store
