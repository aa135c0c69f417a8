#pragma once

#include <string>
#include <utility>

#include <pqxx/pqxx>

namespace ddbfs::meta::store {

// The writer's transaction (WriteQueue), a libpqxx transaction that saves
// two round trips to PostgreSQL per transaction (docs/metadata.md, "Round
// trips of a write"):
//
// - BEGIN can come with the previous transaction's end: commit() and
//   abort() send "COMMIT; BEGIN" ("ROLLBACK; BEGIN") when set_chain(true),
//   and the next WriterTxn made with `begun` = true sends no BEGIN of its
//   own. The WriteQueue ends a chained transaction that no batch used
//   within a short time (EndChained), so that PostgreSQL's now() in a
//   transaction is never older than that and the session is never left idle
//   in a transaction for long.
// - The last statements of a transaction can travel with its COMMIT
//   (set_commit_prefix: plain SQL text, values quoted by the caller), as one
//   simple query: PostgreSQL runs them, then COMMIT, then BEGIN, and stops
//   at the first error (nothing of the transaction is then committed).
//
// A COMMIT that fails with the connection still open leaves no transaction
// open (a ROLLBACK follows, in case the prefix failed before COMMIT ran); a
// connection lost during COMMIT throws pqxx::in_doubt_error, as
// pqxx::work does.
class WriterTxn final : public pqxx::dbtransaction {
 public:
  WriterTxn(pqxx::connection_base& conn, bool begun)
      : namedclass{"WriterTxn", ""},
        dbtransaction(conn, "READ COMMITTED", pqxx::read_write),
        begun_(begun) {
    Begin();
  }
  ~WriterTxn() noexcept override { End(); }

  // SQL statements (each ending with ';') sent in the COMMIT's round trip.
  void set_commit_prefix(std::string sql) { prefix_ = std::move(sql); }
  // Whether commit() and abort() begin the next transaction too.
  void set_chain(bool chain) { chain_ = chain; }
  // True once commit() or abort() succeeded in beginning the next one.
  bool chained() const { return chained_; }

 private:
  void do_begin() override {
    if (!begun_) dbtransaction::do_begin();
  }

  void do_commit() override {
    const std::string sql = prefix_ + (chain_ ? "COMMIT; BEGIN" : "COMMIT");
    try {
      direct_exec(sql.c_str());
    } catch (const std::exception& e) {
      if (!conn().is_open()) {
        throw pqxx::in_doubt_error(std::string("WriterTxn: connection lost during COMMIT (") +
                                   e.what() + ")");
      }
      try {
        direct_exec("ROLLBACK");
      } catch (...) {
        // The connection broke now: its next use says so.
      }
      throw;
    }
    chained_ = chain_;
  }

  void do_abort() override {
    if (!chain_) return dbtransaction::do_abort();
    direct_exec("ROLLBACK; BEGIN");
    chained_ = true;
  }

  const bool begun_;
  std::string prefix_;
  bool chain_ = false;
  bool chained_ = false;
};

}  // namespace ddbfs::meta::store
