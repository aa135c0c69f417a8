#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ddbfs::meta {

// Rebalancing by usage (docs/repair.md, "Rebalancing"): the pure part of
// the planning, so that it can be tested without a cluster. The repairer
// (repairer.cc) gathers the servers and the chunks and queues the moves.

// One chunk server that may give or take replicas: alive, reconciled, not
// being drained.
struct BalanceServer {
  int32_t id = 0;
  std::string host;            // host label
  std::string rack;            // rack key (PlacementRackKey)
  int64_t capacity_bytes = 0;  // as the server reports it
  int64_t used_bytes = 0;      // bytes of its replicas, after the moves already under way
};

// used / capacity (a server without capacity counts as full).
double UsageOf(const BalanceServer& s);
// (highest usage - lowest usage) in percentage points; 0 with fewer than two
// servers.
double UsageGapPct(const std::vector<BalanceServer>& servers);

// A chunk at its goal with a replica on the server to move from.
struct BalanceChunk {
  int64_t id = 0;
  int64_t version = 0;
  int64_t length = 0;
  std::vector<int32_t> live;     // servers with a counted replica
  std::vector<int32_t> holders;  // servers that must not receive a copy
};

// One extra copy of a chunk from `source` to `target`; the next pass's trim
// then drops the replica on `source`.
struct BalanceMove {
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t length = 0;
  int32_t source = 0;
  int32_t target = 0;
};

// Up to `max_moves` moves of `chunks` (replicas of `source`, in order of
// preference) while `source` is the most used of `servers` and the usage
// gap is above `margin_pct`. Each move goes to the least used server that
// can take it: it holds nothing of the chunk, has room for it, the chunk's
// replicas keep as many distinct hosts and racks, the trim (which keeps
// the other replicas and the target before the source) drops the source's,
// and the move narrows the gap between the two (the target ends less used
// than the source was, and the two end closer than they were: so a move
// is never undone by the next one). Usage is projected after each move.
// With `fallback` (the most used server had no chunk that could move: a
// next one is tried), `source` need not be the most used: it gives while
// it is more used than the least used by more than the margin.
std::vector<BalanceMove> PlanRebalance(std::vector<BalanceServer> servers,
                                       const std::vector<BalanceChunk>& chunks, int32_t source,
                                       double margin_pct, int max_moves, bool fallback = false);

}  // namespace ddbfs::meta
