#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "ChunkService.h"
#include "ddbfs/rpc.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

// Settles chunks whose writer's lease expired or was released without a
// commit (docs/write_protocol.md, "Settling"): claims the chunk, asks every
// live replica what it holds, picks one (the committed version if any
// replica still has it, else the most advanced one), gives it a new version,
// makes every other reachable replica a copy of it (or moves an untouched
// committed replica to the new version), and commits that version with the
// replicas that have it. Replicas it could not reach are dropped from the
// chunk map (queued for deletion), so no replica with bytes of an abandoned
// generation is ever written or read again.
//
// A background thread runs a pass every `sweep` and when woken by Kick().
// Thread-safe.
class LeaseSettler {
 public:
  explicit LeaseSettler(OpContext& ctx, int rpc_timeout_ms = 10000);
  ~LeaseSettler();  // Stop()

  void Start();
  void Stop();
  // Runs a pass soon (a PrepareWrite found an expired lease, or a lease was
  // released).
  void Kick();
  // Leases their writers gave back (ReleaseLeases; committed): settled as
  // soon as placement is ready, without the lease time SettlingAllowed waits
  // for after a start (a writer that released a lease is done with it, and
  // the next writer of the chunk waits until it is settled). Kicks.
  void Released(const std::vector<int64_t>& chunk_ids);

  // One pass over the expired leases; returns how many chunks were settled.
  // Nothing is settled until the chunk servers have registered with this
  // metaserver (ServerRegistry::PlacementReady), and no lease that expired
  // by time until a lease time has passed since: see SettlingAllowed.
  int SettleExpired();
  // Settles one chunk if its lease expired; OK (and nothing done) if not.
  Status SettleChunk(int64_t chunk_id);

  // Chunks settled since start (for tests and status).
  int64_t settled() const;

  // Pooled connections to one chunk server, authenticated with the cluster
  // key (ctx.peers); also used by the service to check reported replicas.
  using ChunkPool = RpcPool<rpc::ChunkServiceClient>;
  ChunkPool& Pool(const std::string& host, int port);

 private:
  void Loop();
  // False while chunk servers are still registering after this metaserver
  // started or took over, and for one lease time after: until then a
  // replica looks absent only because its server has not said it is back,
  // and a writer whose lease ran out during the takeover has had no chance
  // to commit yet.
  bool SettlingAllowed();
  // What SettlingAllowed does not allow yet: leases released by their
  // writers (chunk ids, Released) may still be settled once placement is
  // ready. False: nothing may.
  bool ReleasedMayBeSettled();

  OpContext& ctx_;
  const int rpc_timeout_ms_;

  std::mutex pools_mu_;
  std::map<std::string, std::unique_ptr<ChunkPool>> pools_;  // GUARDED_BY(pools_mu_)

  // Serializes passes (the thread and direct SettleChunk calls).
  std::mutex settle_mu_;
  int64_t ready_at_ms_ = 0;  // GUARDED_BY(mu_); when placement became ready

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;  // GUARDED_BY(mu_)
  // Chunks whose leases were released since the start (Released); cleared
  // past kMaxReleased (they then wait for the lease time, as before).
  static constexpr size_t kMaxReleased = 100000;
  std::set<int64_t> released_;  // GUARDED_BY(mu_)
  bool stopping_ = false;       // GUARDED_BY(mu_)
  int64_t settled_ = 0;         // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace ddbfs::meta
