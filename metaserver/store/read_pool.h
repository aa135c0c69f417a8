#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/request_scope.h"

namespace ddbfs::meta::store {

class Tx;
class MetaCache;

// A small pool of read connections for the operations that only read
// (lookup, getattr, readdir, get_chunks, cluster_status, ...), so that reads
// do not wait behind the writer. Connections are opened on first use and
// dropped when they break; the next read reconnects.
//
// Thread-safe. A caller blocks while all `size` connections are in use, up
// to its deadline.
class ReadPool {
 public:
  using Fn = std::function<Status(Tx&)>;

  ReadPool(std::string url, size_t size, SessionLimits limits = SessionLimits());
  ~ReadPool();

  // Runs fn without a transaction block: every statement sees the latest
  // committed data (reads that need one consistent view use one statement).
  // A read that finds its connection broken is retried once on a fresh one.
  // A read whose deadline (the thread's CurrentDeadline()) passes before it
  // gets a connection is not run: kTimedOut.
  Status Run(const Fn& fn);

  // The namespace cache (store/meta_cache.h) reads look in and fill; null:
  // none.
  void set_cache(MetaCache* cache) { cache_.store(cache); }

 private:
  // False when the deadline passed first.
  bool Take(Deadline deadline, std::unique_ptr<Connection>* conn);
  void Give(std::unique_ptr<Connection> conn);

  const std::string url_;
  const size_t size_;
  const SessionLimits limits_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
  size_t in_use_ = 0;                              // GUARDED_BY(mu_)
  std::atomic<MetaCache*> cache_{nullptr};
};

}  // namespace ddbfs::meta::store
