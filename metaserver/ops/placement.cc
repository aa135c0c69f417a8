#include "metaserver/ops/placement.h"

#include <algorithm>
#include <set>

namespace ddbfs::meta {

std::vector<int32_t> ChoosePlacement(std::vector<PlacementCandidate> candidates, int count,
                                     std::mt19937_64& rng,
                                     const std::set<std::string>& taken_labels) {
  std::shuffle(candidates.begin(), candidates.end(), rng);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const PlacementCandidate& a, const PlacementCandidate& b) {
                     return a.free_bytes > b.free_bytes;
                   });
  std::vector<int32_t> chosen;
  std::set<std::string> labels = taken_labels;
  std::vector<bool> taken(candidates.size(), false);
  // Round 1: one server per label; round 2: fill up from the rest.
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (static_cast<int>(chosen.size()) >= count) return chosen;
      if (taken[i]) continue;
      if (round == 0 && !labels.insert(candidates[i].label).second) continue;
      taken[i] = true;
      chosen.push_back(candidates[i].id);
    }
  }
  return chosen;
}

}  // namespace ddbfs::meta
