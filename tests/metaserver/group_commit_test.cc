#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"
#include "process.h"

namespace ddbfs::meta::testing {
namespace {

using GroupCommitTest = MetaTest;

// Holds the writer thread inside a batch until Release(), so that the ops
// queued meanwhile form the next batch.
class WriterGate {
 public:
  explicit WriterGate(store::WriteQueue& writer) {
    blocker_ = std::thread([this, &writer] {
      Status s = writer.Run([this](store::Tx&) {
        std::unique_lock<std::mutex> lock(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
        return Status();
      });
      EXPECT_TRUE(s.ok()) << s;
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  ~WriterGate() { Release(); }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    if (blocker_.joinable()) blocker_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  std::thread blocker_;
};

TEST_F(GroupCommitTest, SixteenConcurrentClientsShareTransactions) {
  Attr dir = MustMkdir(kRootInode, "d");
  const uint64_t tx_before = core_->writer().transactions();
  const uint64_t ops_before = core_->writer().ops();
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = Create(ctx(), caller_, dir.inode,
                        "t" + std::to_string(t) + "_" + std::to_string(i), 0644, {}, {});
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t ops = core_->writer().ops() - ops_before;
  const uint64_t txs = core_->writer().transactions() - tx_before;
  EXPECT_EQ(ops, uint64_t{kThreads * kPerThread});
  EXPECT_LT(txs, ops);
  EXPECT_EQ(
      QueryInt("SELECT count(*) FROM ddbfs.dentries WHERE parent = " + std::to_string(dir.inode)),
      kThreads * kPerThread);
  std::printf("group commit: %llu creates in %llu transactions\n",
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(txs));
}

TEST_F(GroupCommitTest, QueuedOpsCommitInOneTransaction) {
  const uint64_t tx_before = core_->writer().transactions();
  std::atomic<int> created{0};
  {
    WriterGate gate(core_->writer());
    std::vector<std::thread> threads;
    for (int t = 0; t < 10; ++t) {
      threads.emplace_back([&, t] {
        if (Create(ctx(), caller_, kRootInode, "f" + std::to_string(t), 0644, {}, {}).ok()) {
          ++created;
        }
      });
    }
    ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 10; },
                                        std::chrono::seconds(10)));
    gate.Release();
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(created.load(), 10);
  // The gate's own transaction, then one for all ten.
  EXPECT_EQ(core_->writer().transactions() - tx_before, 2u);
}

TEST_F(GroupCommitTest, AFailedOpInABatchDoesNotFailTheOthers) {
  std::atomic<int> created{0};
  std::atomic<int> exists{0};
  const uint64_t tx_before = core_->writer().transactions();
  {
    WriterGate gate(core_->writer());
    std::vector<std::thread> threads;
    for (int t = 0; t < 10; ++t) {
      threads.emplace_back([&] {
        // All ten race for one name in one batch: exactly one wins.
        auto r = Create(ctx(), caller_, kRootInode, "same", 0644, {}, {});
        if (r.ok()) ++created;
        if (r.status().code() == ErrorCode::kExists) ++exists;
      });
    }
    ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 10; },
                                        std::chrono::seconds(10)));
    gate.Release();
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(exists.load(), 9);
  EXPECT_EQ(core_->writer().transactions() - tx_before, 2u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE type = 1"), 1);
}

TEST_F(GroupCommitTest, ADatabaseErrorInABatchFailsOnlyItsOwnOp) {
  const uint64_t tx_before = core_->writer().transactions();
  WriterGate gate(core_->writer());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 5; ++t) {
    threads.emplace_back([&, t] {
      if (Create(ctx(), caller_, kRootInode, "good" + std::to_string(t), 0644, {}, {}).ok()) ++ok;
    });
  }
  // An op that writes a row the schema rejects (goal 0 violates a CHECK).
  Status bad_status;
  std::thread bad([&] {
    ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 5; },
                                        std::chrono::seconds(10)));
    bad_status = core_->writer().Run([](store::Tx& tx) -> Status {
      store::NewInode n;
      n.goal = 0;
      return store::CreateEntry(tx, kRootInode, "bad", n, 0).status();
    });
  });
  ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 6; },
                                      std::chrono::seconds(10)));
  gate.Release();
  for (auto& t : threads) t.join();
  bad.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(bad_status.code(), ErrorCode::kInternal) << bad_status;
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "bad")), ErrorCode::kNotFound);
  // Gate + five creates re-run alone after the batch rolled back.
  EXPECT_EQ(core_->writer().transactions() - tx_before, 6u);
}

TEST_F(GroupCommitTest, StopDrainsTheQueue) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  {
    WriterGate gate(core_->writer());
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        if (Mkdir(ctx(), caller_, kRootInode, "d" + std::to_string(t), 0755).ok()) ++ok;
      });
    }
    ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 4; },
                                        std::chrono::seconds(10)));
    std::thread stopper([&] { core_->Stop(); });
    gate.Release();
    stopper.join();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE type = 2"), 5);
  EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, kRootInode, "late", 0755)), ErrorCode::kUnavailable);
}

TEST_F(GroupCommitTest, AQueuedOpWhoseDeadlinePassedIsNotRun) {
  std::atomic<bool> ran{false};
  Status late;
  {
    WriterGate gate(core_->writer());
    const auto start = store::Clock::now();
    late = core_->writer().Run(
        [&](store::Tx&) {
          ran = true;
          return Status();
        },
        start + std::chrono::milliseconds(200));
    // The caller stopped waiting at its deadline, while the writer was busy.
    EXPECT_LT(store::Clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(core_->writer().pending(), 1u);
  }
  EXPECT_EQ(late.code(), ErrorCode::kTimedOut) << late;
  // The writer reached the abandoned op after the gate and skipped it.
  ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 0; },
                                      std::chrono::seconds(10)));
  EXPECT_TRUE(core_->writer().Run([](store::Tx&) { return Status(); }).ok());
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(core_->writer().expired(), 1u);
}

TEST_F(GroupCommitTest, ADeadlineScopeBoundsOpsThatDoNotNameOne) {
  WriterGate gate(core_->writer());
  store::DeadlineScope scope(store::Clock::now() + std::chrono::milliseconds(100));
  EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, kRootInode, "never", 0755)), ErrorCode::kTimedOut);
  gate.Release();
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "never")),
            ErrorCode::kTimedOut);  // scope passed
  store::DeadlineScope fresh(store::kNoDeadline);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "never")), ErrorCode::kNotFound);
}

// An exactly-once request whose answer is the new file's inode.
store::WriteQueue::OnceRequest CreateOnce(OpContext& ctx, const Caller& caller, int64_t seq,
                                          const std::string& name, std::string* answer) {
  auto attr = std::make_shared<Attr>();
  store::WriteQueue::OnceRequest r;
  r.key = store::RequestKey{std::string(16, 'k'), seq};
  r.rpc = "Create";
  r.run = [&ctx, caller, name, attr]() -> Status {
    ASSIGN_OR_RETURN(*attr, Create(ctx, caller, kRootInode, name, 0644, {}, {}));
    return Status();
  };
  r.answer = [attr] { return std::to_string(attr->inode); };
  r.replay = [answer](const std::string& a) {
    *answer = "replayed " + a;
    return Status();
  };
  return r;
}

TEST_F(GroupCommitTest, DuplicateRequestsInOneBatchRunOnce) {
  std::string answers[3];
  Status results[3];
  {
    WriterGate gate(core_->writer());
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        results[t] = core_->writer().RunOnce(CreateOnce(ctx(), caller_, 1, "once", &answers[t]),
                                             store::kNoDeadline);
      });
    }
    ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return core_->writer().pending() == 3; },
                                        std::chrono::seconds(10)));
    gate.Release();
    for (auto& t : threads) t.join();
  }
  int replayed = 0;
  for (int t = 0; t < 3; ++t) {
    EXPECT_TRUE(results[t].ok()) << results[t];
    if (!answers[t].empty()) ++replayed;
  }
  EXPECT_EQ(replayed, 2);  // the first ran, the other two got its answer
  EXPECT_EQ(core_->writer().replayed(), 2u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE type = 1"), 1);
  const int64_t inode = QueryInt("SELECT inode FROM ddbfs.dentries WHERE name = 'once'");
  for (const std::string& a : answers) {
    if (!a.empty()) {
      EXPECT_EQ(a, "replayed " + std::to_string(inode));
    }
  }
  // Later, from the request log.
  std::string later;
  EXPECT_TRUE(core_->writer()
                  .RunOnce(CreateOnce(ctx(), caller_, 1, "once", &later), store::kNoDeadline)
                  .ok());
  EXPECT_EQ(later, "replayed " + std::to_string(inode));
}

TEST_F(GroupCommitTest, TheRequestLogIsPruned) {
  store::WriteQueueOptions o;
  o.request_log_retention = std::chrono::seconds(1);
  store::WriteQueue writer(db_url(), o);
  std::string answer;
  auto r = CreateOnce(ctx(), caller_, 1, "pruned", &answer);
  r.run = [] { return Status(); };
  r.answer = [] { return std::string("x"); };
  ASSERT_TRUE(writer.RunOnce(r, store::kNoDeadline).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.request_log"), 1);
  auto fresh = writer.PruneRequestLog();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(*fresh, 0);  // younger than the retention
  ASSERT_TRUE(ddbfs::testing::WaitFor(
      [&] {
        auto n = writer.PruneRequestLog();
        return n.ok() && *n == 1;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.request_log"), 0);
}

// The request log's row travels with COMMIT (WriterTxn): when it fails
// there, nothing of its transaction commits and the writer goes on.
TEST_F(GroupCommitTest, ARequestLogRowFailingAtCommitRollsBackItsWholeTransaction) {
  std::string answer;
  ASSERT_TRUE(core_->writer()
                  .RunOnce(CreateOnce(ctx(), caller_, 1, "first", &answer), store::kNoDeadline)
                  .ok());
  // Someone else recorded seq 2 of this client meanwhile: the writer, which
  // saw seq 1 last, does not look it up, and its own row conflicts.
  EXPECT_EQ(QueryInt("INSERT INTO ddbfs.request_log (client_id, seq, rpc, response) VALUES "
                     "('6b6b6b6b-6b6b-6b6b-6b6b-6b6b6b6b6b6b', 2, 'Create', '\\x00') "
                     "RETURNING seq"),
            2);
  Status s =
      core_->writer().RunOnce(CreateOnce(ctx(), caller_, 2, "second", &answer), store::kNoDeadline);
  EXPECT_EQ(s.code(), ErrorCode::kInternal) << s;
  EXPECT_NE(s.message().find("23505"), std::string::npos) << s;
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "second")), ErrorCode::kNotFound);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.dentries WHERE name = 'second'"), 0);
  // The session is usable: the next write commits.
  EXPECT_TRUE(Create(ctx(), caller_, kRootInode, "third", 0644, {}, {}).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.dentries WHERE name = 'third'"), 1);
}

// COMMIT begins the next transaction in the same round trip; a writer with
// nothing to do ends it soon, so that its session is not left idle in a
// transaction (PostgreSQL would end the session after
// idle_in_transaction_session_timeout) and now() in the next write is
// fresh.
TEST_F(GroupCommitTest, ATransactionBegunWithTheLastCommitIsEndedWhenTheWriterIsIdle) {
  MustMkdir(kRootInode, "a");
  const char* kIdleInTransaction =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND state = 'idle in transaction'";
  EXPECT_TRUE(ddbfs::testing::WaitFor([&] { return QueryInt(kIdleInTransaction) == 0; },
                                      std::chrono::seconds(2)));
  // now() of a write after 300 ms of rest is not the time of the last commit.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t before_us =
      QueryInt("SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint");
  std::string answer;
  ASSERT_TRUE(core_->writer()
                  .RunOnce(CreateOnce(ctx(), caller_, 7, "fresh", &answer), store::kNoDeadline)
                  .ok());
  const int64_t created_us = QueryInt(
      "SELECT (extract(epoch FROM created_at) * 1e6)::bigint FROM ddbfs.request_log WHERE seq = 7");
  EXPECT_GE(created_us, before_us - 100000)
      << "now() in the write was " << (before_us - created_us) / 1000 << " ms old";
}

}  // namespace
}  // namespace ddbfs::meta::testing
