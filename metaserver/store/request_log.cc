#include "metaserver/store/request_log.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kFindAnswers{
    "request_log_find",
    // One primary-key probe per key (LATERAL ... LIMIT 1): a plain join is
    // planned, when the statement is first prepared on an empty table, as a
    // hash join over a sequential scan, and that cached plan then costs
    // time in proportion to the log's size on every request.
    "SELECT l.client_id::text, l.seq, l.rpc, encode(l.response, 'hex') "
    "FROM unnest($1::uuid[], $2::bigint[]) AS k(client_id, seq) "
    "CROSS JOIN LATERAL (SELECT r.client_id, r.seq, r.rpc, r.response FROM ddbfs.request_log r "
    "  WHERE r.client_id = k.client_id AND r.seq = k.seq LIMIT 1) l",
    false};

constexpr Statement kHighestRecorded{
    "request_log_highest",
    "SELECT k.c::text, (SELECT max(r.seq) FROM ddbfs.request_log r WHERE r.client_id = k.c) "
    "FROM unnest($1::uuid[]) AS k(c)",
    false};

constexpr Statement kPruneAnswers{
    "request_log_prune",
    "DELETE FROM ddbfs.request_log WHERE ctid = ANY(ARRAY("
    "  SELECT ctid FROM ddbfs.request_log "
    "  WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))",
    true};

constexpr char kHex[] = "0123456789abcdef";

std::string Hex(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

// Hex digits (any '-' skipped, as in a uuid's text form) to bytes.
std::string Unhex(const std::string& text) {
  std::string out;
  out.reserve(text.size() / 2);
  int high = -1;
  for (char c : text) {
    if (c == '-') continue;
    if (high < 0) {
      high = Nibble(c);
    } else {
      out += static_cast<char>(high * 16 + Nibble(c));
      high = -1;
    }
  }
  return out;
}

// 16 bytes in uuid text form (8-4-4-4-12 hex digits).
std::string UuidText(const std::string& id) {
  std::string hex = Hex(id);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace

Result<std::map<RequestKey, LoggedAnswer>> FindAnswers(Tx& tx,
                                                       const std::vector<RequestKey>& keys) {
  return Guard(tx, [&]() -> Result<std::map<RequestKey, LoggedAnswer>> {
    std::map<RequestKey, LoggedAnswer> out;
    if (keys.empty()) return out;
    std::vector<std::string> ids;
    std::vector<int64_t> seqs;
    for (const RequestKey& k : keys) {
      ids.push_back(UuidText(k.client_id));
      seqs.push_back(k.seq);
    }
    for (const auto& row : tx.Exec(kFindAnswers, PgTextArray(ids), PgArray(seqs))) {
      RequestKey key{Unhex(row[0].as<std::string>()), row[1].as<int64_t>()};
      out[key] = LoggedAnswer{row[2].as<std::string>(), Unhex(row[3].as<std::string>())};
    }
    return out;
  });
}

Result<std::map<std::string, int64_t>> HighestRecordedSeqs(
    Tx& tx, const std::vector<std::string>& client_ids) {
  return Guard(tx, [&]() -> Result<std::map<std::string, int64_t>> {
    std::map<std::string, int64_t> out;
    if (client_ids.empty()) return out;
    std::vector<std::string> ids;
    for (const std::string& id : client_ids) ids.push_back(UuidText(id));
    for (const auto& row : tx.Exec(kHighestRecorded, PgTextArray(ids))) {
      out[Unhex(row[0].as<std::string>())] = row[1].is_null() ? 0 : row[1].as<int64_t>();
    }
    return out;
  });
}

std::string RecordAnswersSql(const pqxx::transaction_base& txn,
                             const std::vector<std::pair<RequestKey, LoggedAnswer>>& answers) {
  if (answers.empty()) return std::string();
  std::string sql = "INSERT INTO ddbfs.request_log (client_id, seq, rpc, response) VALUES ";
  bool first = true;
  for (const auto& [key, answer] : answers) {
    if (!first) sql += ", ";
    first = false;
    sql += "(" + txn.quote(UuidText(key.client_id)) + "::uuid, " + std::to_string(key.seq) + ", " +
           txn.quote(answer.rpc) + ", decode(" + txn.quote(Hex(answer.response)) + ", 'hex'))";
  }
  sql += ";";
  return sql;
}

Result<int64_t> PruneAnswers(Tx& tx, std::chrono::seconds retention, int limit) {
  return Guard(tx, [&]() -> Result<int64_t> {
    pqxx::result r = tx.Exec(kPruneAnswers, static_cast<int64_t>(retention.count()),
                             static_cast<int64_t>(limit));
    return static_cast<int64_t>(r.affected_rows());
  });
}

}  // namespace ddbfs::meta::store
