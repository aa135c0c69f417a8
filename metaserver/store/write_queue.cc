#include "metaserver/store/write_queue.h"

#include <algorithm>

#include "ddbfs/log.h"
#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/tag_index.h"
#include "metaserver/store/tx.h"
#include "metaserver/store/writer_txn.h"

namespace ddbfs::meta::store {

namespace {

// Attempts of one transaction that hits serialization failures/deadlocks.
constexpr int kMaxAttempts = 5;
// Pause between two prunings of the request log that found little to do.
constexpr auto kPruneInterval = std::chrono::seconds(10);
constexpr int kPruneBatch = 10000;
// How long a transaction begun with the previous COMMIT waits for the next
// batch before it is rolled back: bounds how old PostgreSQL's now() can be
// in a writer transaction, and how long the session sits idle in one.
constexpr auto kChainIdle = std::chrono::milliseconds(50);

// The op the writer thread is running: Run() from inside it joins its
// transaction instead of queueing (which would wait for itself).
struct RunningOp {
  const WriteQueue* queue = nullptr;
  Tx* tx = nullptr;
};
thread_local RunningOp running_op;

class RunningOpScope {
 public:
  RunningOpScope(const WriteQueue* queue, Tx* tx) : previous_(running_op) {
    running_op = RunningOp{queue, tx};
  }
  ~RunningOpScope() { running_op = previous_; }

 private:
  RunningOp previous_;
};

}  // namespace

WriteQueue::WriteQueue(std::string url, size_t max_batch)
    : WriteQueue(std::move(url), WriteQueueOptions{max_batch, SessionLimits(),
                                                   WriteQueueOptions().request_log_retention}) {}

WriteQueue::WriteQueue(std::string url, WriteQueueOptions options)
    : url_(std::move(url)),
      options_(std::move(options)),
      next_prune_(Clock::now() + kPruneInterval) {
  thread_ = std::thread([this] { Loop(); });
}

WriteQueue::~WriteQueue() { Stop(); }

Status WriteQueue::Run(Op op) { return Run(std::move(op), CurrentDeadline()); }

Status WriteQueue::Run(Op op, Deadline deadline) {
  if (running_op.queue == this) return op(*running_op.tx);
  return SubmitDeferring(
      [&] {
        auto p = std::make_shared<Pending>();
        p->op = op;
        p->deadline = deadline;
        return p;
      },
      deadline);
}

Status WriteQueue::RunOnce(OnceRequest request, Deadline deadline) {
  if (running_op.queue == this) return Internal("RunOnce called from inside a write");
  return SubmitDeferring(
      [&] {
        auto p = std::make_shared<Pending>();
        p->once = request;
        p->deadline = deadline;
        return p;
      },
      deadline);
}

Status WriteQueue::SubmitDeferring(const std::function<PendingPtr()>& make, Deadline deadline) {
  while (true) {
    Status s = Submit(make());
    const BulkGuard* guard = bulk_guard_.load();
    if (!IsBulkDeferred(s) || guard == nullptr) return s;
    // Nothing of the op committed: wait outside the writer for the bulk
    // change to end, then queue it again.
    guard->WaitReleased(deadline);
    if (Clock::now() >= deadline) return DeadlinePassed("write");
  }
}

Result<int64_t> WriteQueue::PruneRequestLog(int limit) {
  int64_t deleted = 0;
  auto p = std::make_shared<Pending>();
  p->op = [&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(deleted, PruneAnswers(tx, options_.request_log_retention, limit));
    return Status();
  };
  p->counted = false;
  RETURN_IF_ERROR(Submit(std::move(p)));
  return deleted;
}

Status WriteQueue::Submit(PendingPtr p) {
  std::future<Status> result = p->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("metaserver is shutting down");
    queue_.push_back(p);
  }
  cv_.notify_one();
  if (p->deadline != kNoDeadline && result.wait_until(p->deadline) == std::future_status::timeout) {
    int expected = kQueued;
    if (p->state.compare_exchange_strong(expected, kAbandoned)) {
      expired_.fetch_add(1);
      return DeadlinePassed("write");
    }
    // Started: the op uses this thread's data until it ends, which the
    // session limits bound; wait for it.
  }
  return result.get();
}

void WriteQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t WriteQueue::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WriteQueue::Loop() {
  while (true) {
    std::vector<PendingPtr> batch;
    bool idle_chain = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] { return stopping_ || !queue_.empty(); };
      Deadline until = kNoDeadline;
      if (options_.request_log_retention.count() > 0) until = next_prune_;
      if (chained_since_) until = std::min(until, *chained_since_ + kChainIdle);
      if (until == kNoDeadline) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_until(lock, until, ready);
      }
      if (queue_.empty() && stopping_) {  // stopping and drained
        lock.unlock();
        EndChained();
        return;
      }
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        PendingPtr p = std::move(queue_.front());
        queue_.pop_front();
        if (Start(*p)) batch.push_back(std::move(p));
      }
      idle_chain = batch.empty() && chained_since_ && Clock::now() >= *chained_since_ + kChainIdle;
    }
    if (!batch.empty()) RunBatch(batch);
    if (idle_chain) EndChained();
    MaybePrune();
  }
}

bool WriteQueue::TakeChained() {
  const bool begun = chained_since_.has_value() && conn_ != nullptr;
  chained_since_.reset();
  return begun;
}

void WriteQueue::EndChained() {
  if (!TakeChained()) return;
  try {
    WriterTxn txn(conn_->raw(), /*begun=*/true);
    txn.abort();
  } catch (const std::exception& e) {
    LOG(kWarn) << "ending an unused writer transaction failed: " << FirstLine(e.what());
    conn_.reset();
  }
}

bool WriteQueue::Start(Pending& p) {
  int expected = kQueued;
  if (Clock::now() < p.deadline && p.state.compare_exchange_strong(expected, kStarted)) {
    return true;
  }
  expected = kQueued;
  if (p.state.compare_exchange_strong(expected, kAbandoned)) expired_.fetch_add(1);
  p.done.set_value(DeadlinePassed("write"));
  return false;
}

void WriteQueue::MaybePrune() {
  if (options_.request_log_retention.count() <= 0 || Clock::now() < next_prune_) return;
  int64_t deleted = 0;
  Pending p;
  p.op = [&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(deleted, PruneAnswers(tx, options_.request_log_retention, kPruneBatch));
    return Status();
  };
  p.counted = false;
  p.state = kStarted;
  Status s = RunAlone(p);
  if (!s.ok()) {
    LOG(kWarn) << "pruning the request log failed: " << s.message();
  } else if (deleted > 0) {
    LOG(kDebug) << "pruned " << deleted << " request-log answers";
  }
  // A full batch means more is due: go on after the next write batch.
  next_prune_ = Clock::now() + (deleted >= kPruneBatch ? Clock::duration(0) : kPruneInterval);
}

Status WriteQueue::EnsureConnection() {
  if (conn_) return Status();
  auto conn = options_.connect ? options_.connect() : Connection::Open(url_, options_.session);
  if (!conn.ok()) {
    return Unavailable(std::string(kDatabaseUnavailable) + " (" + conn.status().message() + ")");
  }
  // Generic plans: the writer's statements are lookups and changes by key,
  // and with plan_cache_mode = auto PostgreSQL planned each execution anew
  // (0.2-0.3 ms of bind per statement; docs/metadata.md).
  try {
    pqxx::nontransaction txn((*conn)->raw());
    txn.exec("SET plan_cache_mode = force_generic_plan");
    // A generic plan is made once, with the statistics of that moment: on
    // tables that were nearly empty then (a new cluster, or one whose files
    // were all deleted before autovacuum's last ANALYZE), PostgreSQL prefers
    // a sequential scan even for a lookup by primary key, also inside the
    // foreign-key checks, and keeps it while the table grows. Every writer
    // statement has an index to use; with sequential scans priced out, it
    // does (WriterPlansTest; docs/metadata.md).
    txn.exec("SET enable_seqscan = off");
  } catch (const std::exception& e) {
    return Unavailable(std::string(kDatabaseUnavailable) + " (" + e.what() + ")");
  }
  if (connected_before_ && options_.after_reconnect) {
    Status s;
    try {
      pqxx::work txn((*conn)->raw());
      Tx tx(**conn, txn);
      s = options_.after_reconnect(tx);
      if (s.ok() && tx.failed()) s = tx.failure();
      if (s.ok()) txn.commit();
    } catch (...) {
      s = ClassifyDbError(std::current_exception()).status;
    }
    if (!s.ok()) {
      return Unavailable(std::string(kDatabaseUnavailable) +
                         " (after reconnecting: " + s.message() + ")");
    }
  }
  connected_before_ = true;
  conn_ = std::move(conn).value();
  chained_since_.reset();  // a new session has no transaction begun
  return Status();
}

Status WriteQueue::FindKnown(Tx& tx, const std::vector<Pending*>& ops, Journal* journal) {
  // A request whose seq is above every seq that can have an answer
  // recorded for its client is a first attempt, and the lookup is skipped.
  // seen_ holds that bound: for a client not seen yet in this process (a
  // metaserver restart, or the table was cleared) it starts at the highest
  // seq in the request log - a client's calls commit out of seq order, so
  // the process that died may have recorded seqs above the first one this
  // process sees - and then follows every seq this process sees.
  if (seen_.size() > kMaxSeenClients) seen_.clear();
  std::vector<std::string> fresh;
  for (const Pending* p : ops) {
    if (p->once && seen_.count(p->once->key.client_id) == 0) {
      fresh.push_back(p->once->key.client_id);
    }
  }
  if (!fresh.empty()) {
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    ASSIGN_OR_RETURN(auto highest, HighestRecordedSeqs(tx, fresh));
    for (const std::string& id : fresh) seen_[id] = highest[id];
  }
  std::vector<RequestKey> keys;
  for (const Pending* p : ops) {
    if (!p->once) continue;
    const RequestKey& key = p->once->key;
    int64_t& bound = seen_[key.client_id];
    if (key.seq <= bound) keys.push_back(key);
    bound = std::max(bound, key.seq);
  }
  if (keys.empty()) return Status();
  ASSIGN_OR_RETURN(journal->known, FindAnswers(tx, keys));
  return Status();
}

Status WriteQueue::Execute(Pending& p, Tx& tx, Journal& journal) {
  RunningOpScope running(this, &tx);
  DeadlineScope deadline(p.deadline);
  if (!p.once) return p.op(tx);
  OnceRequest& r = *p.once;
  auto known = journal.known.find(r.key);
  if (known != journal.known.end()) {
    if (known->second.rpc != r.rpc) {
      return InvalidArgument("request id " + std::to_string(r.key.seq) +
                             " of this client was used by " + known->second.rpc + ", not " + r.rpc);
    }
    replayed_.fetch_add(1);
    return r.replay(known->second.response);
  }
  Status s = r.run();
  if (!s.ok() || tx.failed()) return s;
  LoggedAnswer answer{r.rpc, r.answer()};
  journal.known[r.key] = answer;  // a duplicate later in this transaction replays it
  journal.recorded.emplace_back(r.key, std::move(answer));
  return s;
}

void WriteQueue::RunBatch(std::vector<PendingPtr>& batch) {
  if (batch.size() == 1) {
    batch[0]->done.set_value(RunAlone(*batch[0]));
    return;
  }
  std::vector<Status> results(batch.size());
  bool reconnected = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Status failure;
    Outcome outcome = TryBatch(batch, &results, &failure);
    if (outcome == Outcome::kCommitted) {
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(results[i]);
      return;
    }
    if (outcome == Outcome::kRetry) continue;
    if (outcome == Outcome::kOpFailed) break;
    if (outcome == Outcome::kTimedOut) {
      // The database is stalled: running each op alone would wait again.
      LOG(kWarn) << "write batch of " << batch.size() << " ops failed: " << failure.message();
      for (auto& p : batch) p->done.set_value(failure);
      return;
    }
    // The connection broke. Before COMMIT nothing can have been committed,
    // so one retry on a fresh connection is safe; in doubt it is not.
    conn_.reset();
    if (outcome == Outcome::kBroken && !reconnected) {
      reconnected = true;
      continue;
    }
    LOG(kWarn) << "write batch of " << batch.size() << " ops failed: " << failure.message();
    for (auto& p : batch) p->done.set_value(failure);
    return;
  }
  // Some op hit a database error (or failed after writing): isolate it.
  for (auto& p : batch) p->done.set_value(RunAlone(*p));
}

WriteQueue::Outcome WriteQueue::TryBatch(std::vector<PendingPtr>& batch,
                                         std::vector<Status>* results, Status* failure) {
  if (Status s = EnsureConnection(); !s.ok()) {
    *failure = s;
    return Outcome::kNoDatabase;
  }
  auto failed = [&](Tx& tx) {
    *failure = tx.failure();
    if (tx.broken()) return Outcome::kBroken;
    if (tx.timed_out()) return Outcome::kTimedOut;
    return tx.retryable() ? Outcome::kRetry : Outcome::kOpFailed;
  };
  bool committing = false;
  size_t counted = 0;
  try {
    WriterTxn txn(conn_->raw(), TakeChained());
    Tx tx(*conn_, txn);
    tx.set_tag_index(tag_index_.load());
    tx.set_bulk_guard(bulk_guard_.load());
    tx.set_cache(cache_.load(), /*writer=*/true);
    Journal journal;
    std::vector<Pending*> ops;
    for (auto& p : batch) ops.push_back(p.get());
    if (!FindKnown(tx, ops, &journal).ok()) return failed(tx);
    for (size_t i = 0; i < batch.size(); ++i) {
      tx.ClearWrote();
      Status s = Execute(*batch[i], tx, journal);
      if (tx.failed()) return failed(tx);
      if (!s.ok() && tx.wrote()) {
        if (!IsBulkDeferred(s)) {
          LOG(kError) << "an op failed after writing (rolled back): " << s.message();
        }
        return Outcome::kOpFailed;
      }
      (*results)[i] = s;
      if (batch[i]->counted) ++counted;
    }
    // The request log's row travels with COMMIT, and the next BEGIN too.
    txn.set_commit_prefix(RecordAnswersSql(txn, journal.recorded));
    txn.set_chain(true);
    committing = true;
    txn.commit();
    if (txn.chained()) chained_since_ = Clock::now();
    tx.CacheCommitted();
    tx.RunAfterCommit();
  } catch (...) {
    DbError e = ClassifyDbError(std::current_exception());
    *failure = e.status;
    if (e.broken && committing) {
      // It may have committed: the index of tags loads everything again.
      if (TagIndex* index = tag_index_.load()) index->Invalidate();
      return Outcome::kBrokenInDoubt;
    }
    if (e.broken) return Outcome::kBroken;
    if (e.timed_out) return Outcome::kTimedOut;
    return e.retryable ? Outcome::kRetry : Outcome::kOpFailed;
  }
  transactions_.fetch_add(1);
  ops_.fetch_add(counted);
  return Outcome::kCommitted;
}

Status WriteQueue::RunAlone(Pending& p) {
  // Re-run after a rollback: nothing of it committed, so a caller that has
  // given up meanwhile can be answered without running it.
  if (Clock::now() >= p.deadline) {
    expired_.fetch_add(1);
    return DeadlinePassed("write");
  }
  bool reconnected = false;
  Status last;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    RETURN_IF_ERROR(EnsureConnection());
    bool committing = false;
    DbError error;
    try {
      WriterTxn txn(conn_->raw(), TakeChained());
      Tx tx(*conn_, txn);
      tx.set_tag_index(tag_index_.load());
      tx.set_bulk_guard(bulk_guard_.load());
      tx.set_cache(cache_.load(), /*writer=*/true);
      Journal journal;
      Status s;
      if (FindKnown(tx, {&p}, &journal).ok()) s = Execute(p, tx, journal);
      if (tx.failed()) {
        error.status = tx.failure();
        error.broken = tx.broken();
        error.retryable = tx.retryable();
        error.timed_out = tx.timed_out();
      } else if (!s.ok()) {
        txn.set_chain(true);
        txn.abort();
        if (txn.chained()) chained_since_ = Clock::now();
        return s;
      } else {
        txn.set_commit_prefix(RecordAnswersSql(txn, journal.recorded));
        txn.set_chain(true);
        committing = true;
        txn.commit();
        if (txn.chained()) chained_since_ = Clock::now();
        tx.CacheCommitted();
        tx.RunAfterCommit();
        if (p.counted) {
          transactions_.fetch_add(1);
          ops_.fetch_add(1);
        }
        return s;
      }
    } catch (...) {
      error = ClassifyDbError(std::current_exception());
    }
    last = error.status;
    if (error.retryable) continue;
    if (!error.broken) return error.status;
    conn_.reset();
    if (committing) {
      if (TagIndex* index = tag_index_.load()) index->Invalidate();  // as above
    }
    if (committing || reconnected) return error.status;
    reconnected = true;
  }
  return last;
}

}  // namespace ddbfs::meta::store
