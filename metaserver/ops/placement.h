#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace ddbfs::meta {

// A chunk server that could take a new replica.
struct PlacementCandidate {
  int32_t id = 0;
  std::string label;       // host label: two replicas on one label share a fate
  int64_t free_bytes = 0;  // free space, minus space promised since its last report
  std::string rack;        // rack label ("": none, the host is a rack of its own)
};

// The rack a server counts in for placement: its rack label, or, without
// one, its host label (an unlabelled host is a rack of its own, so that
// a cluster without racks places exactly as by hosts). Rack and host names
// never collide.
std::string PlacementRackKey(const std::string& label, const std::string& rack);

// Picks up to `count` distinct servers for the replicas of a new chunk
// (docs/repair.md, "Placement by host and rack"), in three rounds: a host
// label and a rack not used yet; a host label not used yet; any server not
// chosen yet. Within each round the most free space first, ties broken at
// random. Fewer than `count` when there are not enough candidates.
// `taken_labels` and `taken_racks` (rack keys, PlacementRackKey) are those of
// the replicas the chunk already has (pipeline recovery, repair): they count
// as used.
std::vector<int32_t> ChoosePlacement(std::vector<PlacementCandidate> candidates, int count,
                                     std::mt19937_64& rng,
                                     const std::set<std::string>& taken_labels = {},
                                     const std::set<std::string>& taken_racks = {});

// Which of `servers` (the live replicas of one chunk, as (host label, rack
// key) per server, in order of preference) to keep so that `goal` of them
// stay: distinct hosts and racks first, then distinct hosts, then the rest,
// each round in the given order. The trim's choice (repairer.cc).
std::vector<size_t> ChooseKept(const std::vector<std::pair<std::string, std::string>>& servers,
                               int goal);

}  // namespace ddbfs::meta
