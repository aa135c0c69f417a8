#include "metaserver/ops/placement.h"

#include <algorithm>
#include <set>

namespace ddbfs::meta {

namespace {

// Rounds of ChoosePlacement and ChooseKept.
enum Round { kNewHostAndRack = 0, kNewHost = 1, kAny = 2 };

// Whether a server of (label, rack key) may be taken in `round`; takes it
// into `labels` and `racks` if so.
bool Admit(Round round, const std::string& label, const std::string& rack,
           std::set<std::string>& labels, std::set<std::string>& racks) {
  const bool new_host = !labels.count(label);
  const bool new_rack = !racks.count(rack);
  if (round == kNewHostAndRack && !(new_host && new_rack)) return false;
  if (round == kNewHost && !new_host) return false;
  labels.insert(label);
  racks.insert(rack);
  return true;
}

}  // namespace

std::string PlacementRackKey(const std::string& label, const std::string& rack) {
  return rack.empty() ? "host:" + label : "rack:" + rack;
}

std::vector<int32_t> ChoosePlacement(std::vector<PlacementCandidate> candidates, int count,
                                     std::mt19937_64& rng,
                                     const std::set<std::string>& taken_labels,
                                     const std::set<std::string>& taken_racks) {
  std::shuffle(candidates.begin(), candidates.end(), rng);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const PlacementCandidate& a, const PlacementCandidate& b) {
                     return a.free_bytes > b.free_bytes;
                   });
  std::vector<int32_t> chosen;
  std::set<std::string> labels = taken_labels;
  std::set<std::string> racks = taken_racks;
  std::vector<bool> taken(candidates.size(), false);
  for (Round round : {kNewHostAndRack, kNewHost, kAny}) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (static_cast<int>(chosen.size()) >= count) return chosen;
      if (taken[i]) continue;
      const PlacementCandidate& c = candidates[i];
      if (!Admit(round, c.label, PlacementRackKey(c.label, c.rack), labels, racks)) continue;
      taken[i] = true;
      chosen.push_back(c.id);
    }
  }
  return chosen;
}

std::vector<size_t> ChooseKept(const std::vector<std::pair<std::string, std::string>>& servers,
                               int goal) {
  std::vector<size_t> kept;
  std::set<std::string> labels, racks;
  std::vector<bool> taken(servers.size(), false);
  for (Round round : {kNewHostAndRack, kNewHost, kAny}) {
    for (size_t i = 0; i < servers.size(); ++i) {
      if (static_cast<int>(kept.size()) >= goal) return kept;
      if (taken[i]) continue;
      if (!Admit(round, servers[i].first, servers[i].second, labels, racks)) continue;
      taken[i] = true;
      kept.push_back(i);
    }
  }
  return kept;
}

}  // namespace ddbfs::meta
