#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ChunkService.h"
#include "ddbfs/rpc.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

namespace store {
struct UnderGoalChunk;
struct MisplacedChunk;
}  // namespace store

struct RepairOptions {
  // Pause between two passes (0: no repair at all).
  int interval_ms = 1000;
  // Copies in flight at once, over the whole cluster.
  int max_copies = 4;
  // Bytes per second the copies may move together (0: no limit). Each copy
  // is paced by its target chunk server to bytes_per_s / max_copies.
  int64_t bytes_per_s = 128ll << 20;
  // Chunks looked at per pass (under goal, then over goal).
  int batch = 256;
  // A pass scans the whole chunk map twice (seconds at a million chunks):
  // after a pass that found nothing, the next ones are skipped while
  // nothing changed - no kick, no MarkDirty, the same servers alive,
  // reconciled and drained - but one runs at least every idle_scan_ms
  // (0: every interval, whatever happened).
  int idle_scan_ms = 30000;
  // Rebalancing (docs/repair.md, "Rebalancing"): while the usage of the
  // alive, reconciled, undrained servers differs by more than this many
  // percentage points, chunks move from the most used to the least used
  // (0: no rebalancing).
  double rebalance_margin_pct = 5;
};

// What `ddbfs status` shows of the repair. Counters are since this process
// started.
struct RepairStats {
  bool enabled = false;
  int in_flight = 0;
  int64_t copied = 0;        // copies recorded in the chunk map
  int64_t bytes_copied = 0;  // their bytes
  int64_t bytes_per_s = 0;   // recorded bytes over the last 10 s, per second
  int64_t failed = 0;        // copies that failed (source or target)
  int64_t discarded = 0;     // copies made but not recorded (the chunk moved on)
  int64_t trimmed = 0;       // replicas over goal dropped and queued for deletion
  int64_t spread = 0;        // copies queued to spread a chunk over more hosts or racks
  int64_t scans = 0;         // passes that scanned the chunk map
  // Rebalancing: the margin (0: off), the gap now (percentage points,
  // from the servers' reports), moves queued or copying, and the moves
  // recorded (chunks, bytes, bytes per second over the last 10 s).
  double rebalance_margin_pct = 0;
  double rebalance_gap_pct = 0;
  int rebalance_in_flight = 0;
  int64_t rebalanced = 0;
  int64_t bytes_rebalanced = 0;
  int64_t rebalance_bytes_per_s = 0;
};

// The background repair (docs/repair.md): brings every chunk back to its
// goal after a chunk server died, and trims replicas over goal when one
// comes back.
//
// A pass (every interval_ms and when kicked) first trims: a chunk with more
// live replicas than its goal loses the extras (keeping distinct host labels,
// then the least used servers); only replicas on servers whose inventory is
// reconciled count. Then it lists chunks under goal, fewest live replicas
// first, and queues one copy per chunk; up to max_copies worker threads tell
// a target chunk server (chosen as for a new chunk: distinct labels from the
// live replicas first, never a server holding anything of the chunk) to
// copy it from a live replica (ChunkService.ReplicateChunk, server to
// server, authenticated with the cluster key). The new replica is recorded
// only after the copy succeeded, at the version copied, and only if the
// chunk is still at that version with no write lease and the target is
// alive; otherwise the copy is queued for deletion on the target. Chunks
// under a write lease wait until it is committed or settled.
//
// Placement is checked again (docs/repair.md, "Placement by host and
// rack"): when the chunks under goal leave room in a pass, a chunk at its
// goal whose replicas share a host (or a rack) while a host (or rack) with
// room holds none of them gets one more copy there, chosen as above; the
// next pass's trim then drops a replica of the shared host or rack.
//
// Rebalancing (docs/repair.md, "Rebalancing"): when a pass has no chunk
// under goal and none to spread, and copy slots are spare, chunks at their
// goal move from the most used server to the least used one (usage: bytes
// of replicas / capacity) while the gap is above the margin: one extra
// copy each (planned by PlanRebalance, rebalance.h, on usage projected
// after the moves under way), through the same queue, workers and
// bandwidth; the next pass's trim drops the source's replica (a recorded
// move's source is the first the trim lets go; otherwise the most used
// server's, by usage fraction).
//
// A chunk's goal is its file's effective goal: the file's own, or the
// highest goal of the rules of its tags (docs/repair.md, "Goals"). Replicas
// on servers being drained do not count toward it (they are copied from,
// never to) and are dropped once the chunk has its goal elsewhere
// ("Draining"). Nothing runs
// before the chunk servers known from the database have re-registered after
// a start (ServerRegistry::PlacementReady).
//
// Thread-safe.
class Repairer {
 public:
  Repairer(OpContext& ctx, RepairOptions options);
  ~Repairer();  // Stop()

  void Start();
  void Stop();
  // A pass now.
  void Kick();
  // Something that may leave a chunk off its goal was committed (a write
  // that missed a replica or stayed below goal, a settled lease, a goal
  // change, an inventory page; tag changes: MarkTagsChanged): the next
  // interval's pass scans. Cheap; call after the commit.
  void MarkDirty();
  // Whether MarkDirty was called since the loop last looked (or since the
  // last TakeDirty); clears it. For tests of who marks.
  bool TakeDirty();
  // A tag change was committed: it moves a document's goal only through a
  // goal rule, so it is MarkDirty unless the last pass found no rule at all
  // (a rule set since kicks a pass, which looks again before its scans).
  void MarkTagsChanged();

  // One pass: trims, then queues copies of the chunks under goal, and
  // returns (how many copies it queued) once a worker is free to take more.
  int Pass();

  RepairStats stats() const;

 private:
  using ChunkPool = RpcPool<rpc::ChunkServiceClient>;
  struct Copy {
    int64_t chunk_id = 0;
    int64_t version = 0;
    int64_t length = 0;
    int32_t source = 0;
    int32_t target = 0;
    bool rebalance = false;  // a rebalancing move (its source's replica goes after the record)
  };
  // A rebalancing move from queueing until the trim after its record.
  struct Move {
    int32_t source = 0;
    int32_t target = 0;
    int64_t length = 0;
    bool recorded = false;
  };
  void Loop();
  void Worker();
  // Trims every chunk over goal; returns the replicas dropped. Sets *found
  // when it listed any (or could not list).
  int64_t Trim(bool* found);
  // The copy of one chunk, or nullopt when no target or source is usable.
  std::optional<Copy> Plan(const store::UnderGoalChunk& chunk);
  // Lists up to `limit` misplaced chunks and queues a copy of each that
  // has a target on a new host or rack; returns how many it queued.
  int QueueMisplaced(int limit);
  // The copy that spreads one misplaced chunk, or nullopt.
  std::optional<Copy> PlanSpread(const store::MisplacedChunk& chunk);
  // Rebalancing: queues up to the spare copy slots of moves; returns how
  // many it queued.
  int QueueRebalance();
  // Runs one copy and records it. Sets *discarded when the copy was made but
  // not recorded (the chunk moved on, or the target died).
  Status Run(const Copy& copy, bool* discarded);
  bool stopping() const;
  // Who is alive, reconciled and drained, as text: a pass scans when it
  // changed.
  std::string ServerSignature() const;
  ChunkPool& Pool(const std::string& host, int port);

  OpContext& ctx_;
  const RepairOptions options_;
  const int copy_timeout_ms_;

  std::mutex pools_mu_;
  std::map<std::string, std::unique_ptr<ChunkPool>> pools_;  // GUARDED_BY(pools_mu_)

  std::mutex pass_mu_;  // serializes passes (the thread, tests)
  mutable std::mutex mu_;
  std::condition_variable cv_;  // kicks, stop, queue and completions
  bool kicked_ = false;         // GUARDED_BY(mu_)
  // Whether a goal rule may exist: as the last pass found (before its
  // scans); true until a pass looked.
  std::atomic<bool> rules_{true};
  bool dirty_ = true;       // GUARDED_BY(mu_): see MarkDirty
  bool pending_ = true;     // GUARDED_BY(mu_): the last pass found work (or could not look)
  bool stopping_ = false;   // GUARDED_BY(mu_)
  std::deque<Copy> queue_;  // GUARDED_BY(mu_)
  std::set<int64_t> busy_;  // GUARDED_BY(mu_): chunks queued or copying
  int in_flight_ = 0;       // GUARDED_BY(mu_)
  // Chunks whose copy failed, and when: skipped for an interval.
  std::map<int64_t, std::chrono::steady_clock::time_point> failed_at_;  // GUARDED_BY(mu_)
  RepairStats stats_;                                                   // GUARDED_BY(mu_)
  // Recorded copies of the last 10 s (time, bytes), for bytes_per_s.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> recent_;  // GUARDED_BY(mu_)
  // The same for rebalancing moves.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>>
      recent_moves_;               // GUARDED_BY(mu_)
  std::map<int64_t, Move> moves_;  // GUARDED_BY(mu_): by chunk id
  std::thread thread_;
  std::vector<std::thread> workers_;  // set by Start() only; none: Pass() only plans and trims
};

// ctx.repairer->MarkDirty(), when a repair runs.
void MarkRepairDirty(OpContext& ctx);
// ctx.repairer->MarkTagsChanged(), when a repair runs.
void MarkRepairTagsChanged(OpContext& ctx);

}  // namespace ddbfs::meta
