#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/meta_cache.h"

namespace ddbfs::meta::store {

class TagIndex;
class BulkGuard;

// One database transaction as the store functions see it: the WriteQueue's
// batch transaction or a ReadPool read. Records the first database error so
// that the runner can roll back, retry or reconnect.
//
// Store functions never let a libpqxx exception escape: they run their body
// inside Guard(), which turns it into a Status and marks the Tx failed. Once
// failed, every further store call on the Tx returns that same Status
// without touching the database (PostgreSQL has aborted the transaction).
//
// Not thread-safe; lives on the stack of the thread that runs it.
// A writing statement that may change a chunk map: it names ddbfs.chunks or
// ddbfs.replicas (the cached chunk maps, store/meta_cache.h, are dropped at
// the end of its transaction).
bool ChangesChunkMaps(const Statement& s);

class Tx {
 public:
  Tx(Connection& conn, pqxx::transaction_base& txn) : conn_(conn), txn_(txn) {}
  // A writer transaction that did not reach CacheCommitted() drops from the
  // cache every key it changed.
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

  // Runs a prepared statement. Throws pqxx exceptions: call only inside Guard().
  template <typename... Args>
  pqxx::result Exec(const Statement& s, Args&&... args) {
    conn_.Prepare(s);
    if (s.writes) {
      wrote_ = true;
      if (cache_ != nullptr && ChangesChunkMaps(s)) changes_.chunks = true;
    }
    return txn_.exec_prepared(s.name, std::forward<Args>(args)...);
  }

  // Runs a read whose text is built at run time (a compiled query: fixed
  // fragments and $n placeholders only) with `params` bound as text.
  // Throws pqxx exceptions: call only inside Guard().
  pqxx::result ExecRead(const std::string& sql, const std::vector<std::string>& params) {
    return txn_.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
  }

  // Turns the exception in flight into a Status and records it.
  Status Fail(std::exception_ptr error);

  bool failed() const { return !failure_.ok(); }
  const Status& failure() const { return failure_; }
  // The connection is gone (PostgreSQL stopped, network cut).
  bool broken() const { return broken_; }
  // A serialization failure (40001) or deadlock (40P01): run it again.
  bool retryable() const { return retryable_; }
  // A session limit fired (statement_timeout, lock_timeout): the database
  // is stalled or locked; running it again now would wait again.
  bool timed_out() const { return timed_out_; }

  // The index of tags that follows this transaction's changes (null: none),
  // and what to tell it once the transaction has committed: the runner of
  // the transaction calls RunAfterCommit() right after COMMIT succeeded (a
  // rolled-back transaction drops them).
  TagIndex* tag_index() const { return tag_index_; }
  void set_tag_index(TagIndex* index) { tag_index_ = index; }
  void AfterCommit(std::function<void()> f) {
    if (tag_index_ != nullptr) after_commit_.push_back(std::move(f));
  }
  void RunAfterCommit();  // never throws (a failing one reloads the index)
  // The guard of a running bulk change (store/bulk_writer.h) that this
  // transaction's ops defer to; null: none (a read, or the bulk change
  // itself).
  const BulkGuard* bulk_guard() const { return bulk_guard_; }
  void set_bulk_guard(const BulkGuard* guard) { bulk_guard_ = guard; }

  // The namespace cache (store/meta_cache.h) this transaction reads from and
  // fills; null: none. `writer`: the transaction may change the namespace
  // and tells the cache its changes at its end.
  void set_cache(MetaCache* cache, bool writer) {
    cache_ = cache;
    writer_ = writer;
  }
  MetaCache* cache() const { return cache_; }
  bool writer() const { return writer_; }
  // The namespace changes of this transaction, recorded by the store
  // functions that make them (every statement that changes ddbfs.inodes or
  // ddbfs.dentries must report here): the row after the change; a change
  // whose result is not known here (or a deletion); a name that now points
  // at `inode` (0: the name is gone; nullopt: not known).
  void Changed(const Attr& attr) {
    if (cache_ != nullptr) changes_.inodes[attr.inode] = attr;
  }
  void ChangedInode(InodeId inode) {
    if (cache_ != nullptr) changes_.inodes[inode] = std::nullopt;
  }
  void ChangedEntry(InodeId parent, const std::string& name, std::optional<InodeId> inode) {
    if (cache_ != nullptr) changes_.entries[std::make_pair(parent, name)] = inode;
  }
  // A directory this transaction created (empty: its entries are all known).
  void CreatedDir(InodeId dir) {
    if (cache_ != nullptr) changes_.new_dirs.push_back(dir);
  }
  const MetaCache::Changes& changes() const { return changes_; }
  // Called by the runner right after COMMIT succeeded: the cache takes the
  // changes (before any caller of the transaction is answered).
  void CacheCommitted();

  // True once a statement that changes data ran since ClearWrote().
  bool wrote() const { return wrote_; }
  void ClearWrote() { wrote_ = false; }

 private:
  Connection& conn_;
  pqxx::transaction_base& txn_;
  Status failure_;
  bool broken_ = false;
  bool retryable_ = false;
  bool timed_out_ = false;
  bool wrote_ = false;
  TagIndex* tag_index_ = nullptr;
  const BulkGuard* bulk_guard_ = nullptr;
  std::vector<std::function<void()>> after_commit_;
  MetaCache* cache_ = nullptr;
  bool writer_ = false;
  MetaCache::Changes changes_;
};

// Runs f() (which returns Status or Result<T>) and turns any exception into
// the returned failure. Every store function's body runs inside this.
template <typename F>
auto Guard(Tx& tx, F&& f) -> std::invoke_result_t<F> {
  if (tx.failed()) return tx.failure();
  try {
    return f();
  } catch (...) {
    return tx.Fail(std::current_exception());
  }
}

// What a libpqxx exception means for the runner of the transaction.
struct DbError {
  Status status;
  bool broken = false;     // the connection is gone: reconnect
  bool retryable = false;  // 40001 / 40P01: run the transaction again
  bool timed_out = false;  // 57014 / 55P03: kTimedOut, do not run it again now
};
DbError ClassifyDbError(std::exception_ptr error);

// The message of every failure caused by a lost database connection.
inline constexpr char kDatabaseUnavailable[] = "metadata database unavailable";
// ... and of every statement cancelled by a session limit (SessionLimits).
inline constexpr char kDatabaseTimedOut[] = "metadata database timed out";

// PostgreSQL array literals for array parameters ("{1,2,3}").
std::string PgArray(const std::vector<int64_t>& values);
std::string PgArray(const std::vector<int32_t>& values);
std::string PgTextArray(const std::vector<std::string>& values);

}  // namespace ddbfs::meta::store
