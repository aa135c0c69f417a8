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
};

// Picks up to `count` distinct servers for the replicas of a new chunk:
// distinct labels first, then distinct servers; within each round the most
// free space first, ties broken at random. Fewer than `count` when there are
// not enough candidates. `taken_labels` are the labels of replicas the chunk
// already has (pipeline recovery, repair): they count as used in the first
// round.
std::vector<int32_t> ChoosePlacement(std::vector<PlacementCandidate> candidates, int count,
                                     std::mt19937_64& rng,
                                     const std::set<std::string>& taken_labels = {});

}  // namespace ddbfs::meta
