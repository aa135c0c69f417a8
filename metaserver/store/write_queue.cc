#include "metaserver/store/write_queue.h"

#include "ddbfs/log.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {
// Attempts of one transaction that hits serialization failures/deadlocks.
constexpr int kMaxAttempts = 5;
}  // namespace

WriteQueue::WriteQueue(std::string url, size_t max_batch)
    : url_(std::move(url)), max_batch_(max_batch == 0 ? 1 : max_batch) {
  thread_ = std::thread([this] { Loop(); });
}

WriteQueue::~WriteQueue() { Stop(); }

Status WriteQueue::Run(Op op) {
  std::future<Status> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("metaserver is shutting down");
    queue_.push_back(Pending{std::move(op), std::promise<Status>()});
    result = queue_.back().done.get_future();
  }
  cv_.notify_one();
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
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
  }
}

Status WriteQueue::EnsureConnection() {
  if (conn_) return Status();
  auto conn = Connection::Open(url_);
  if (!conn.ok()) {
    return Unavailable(std::string(kDatabaseUnavailable) + " (" + conn.status().message() + ")");
  }
  conn_ = std::move(conn).value();
  return Status();
}

void WriteQueue::RunBatch(std::vector<Pending>& batch) {
  if (batch.size() == 1) {
    batch[0].done.set_value(RunAlone(batch[0]));
    return;
  }
  std::vector<Status> results(batch.size());
  bool reconnected = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Status failure;
    Outcome outcome = TryBatch(batch, &results, &failure);
    if (outcome == Outcome::kCommitted) {
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(results[i]);
      return;
    }
    if (outcome == Outcome::kRetry) continue;
    if (outcome == Outcome::kOpFailed) break;
    // The connection broke. Before COMMIT nothing can have been committed,
    // so one retry on a fresh connection is safe; in doubt it is not.
    conn_.reset();
    if (outcome == Outcome::kBroken && !reconnected) {
      reconnected = true;
      continue;
    }
    LOG(kWarn) << "write batch of " << batch.size() << " ops failed: " << failure.message();
    for (auto& p : batch) p.done.set_value(failure);
    return;
  }
  // Some op hit a database error (or failed after writing): isolate it.
  for (auto& p : batch) p.done.set_value(RunAlone(p));
}

WriteQueue::Outcome WriteQueue::TryBatch(std::vector<Pending>& batch, std::vector<Status>* results,
                                         Status* failure) {
  if (Status s = EnsureConnection(); !s.ok()) {
    *failure = s;
    return Outcome::kNoDatabase;
  }
  bool committing = false;
  try {
    pqxx::work txn(conn_->raw());
    Tx tx(*conn_, txn);
    for (size_t i = 0; i < batch.size(); ++i) {
      tx.ClearWrote();
      Status s = batch[i].op(tx);
      if (tx.failed()) {
        *failure = tx.failure();
        if (tx.broken()) return Outcome::kBroken;
        return tx.retryable() ? Outcome::kRetry : Outcome::kOpFailed;
      }
      if (!s.ok() && tx.wrote()) {
        LOG(kError) << "an op failed after writing (rolled back): " << s.message();
        return Outcome::kOpFailed;
      }
      (*results)[i] = s;
    }
    committing = true;
    txn.commit();
  } catch (...) {
    DbError e = ClassifyDbError(std::current_exception());
    *failure = e.status;
    if (e.broken) return committing ? Outcome::kBrokenInDoubt : Outcome::kBroken;
    return e.retryable ? Outcome::kRetry : Outcome::kOpFailed;
  }
  transactions_.fetch_add(1);
  ops_.fetch_add(batch.size());
  return Outcome::kCommitted;
}

Status WriteQueue::RunAlone(Pending& p) {
  bool reconnected = false;
  Status last;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    RETURN_IF_ERROR(EnsureConnection());
    bool committing = false;
    DbError error;
    try {
      pqxx::work txn(conn_->raw());
      Tx tx(*conn_, txn);
      Status s = p.op(tx);
      if (tx.failed()) {
        error.status = tx.failure();
        error.broken = tx.broken();
        error.retryable = tx.retryable();
      } else if (!s.ok()) {
        txn.abort();
        return s;
      } else {
        committing = true;
        txn.commit();
        transactions_.fetch_add(1);
        ops_.fetch_add(1);
        return s;
      }
    } catch (...) {
      error = ClassifyDbError(std::current_exception());
    }
    last = error.status;
    if (error.retryable) continue;
    if (!error.broken) return error.status;
    conn_.reset();
    if (committing || reconnected) return error.status;
    reconnected = true;
  }
  return last;
}

}  // namespace ddbfs::meta::store
