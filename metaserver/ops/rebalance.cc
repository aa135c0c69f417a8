#include "metaserver/ops/rebalance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "metaserver/ops/placement.h"

namespace ddbfs::meta {

double UsageOf(const BalanceServer& s) {
  if (s.capacity_bytes <= 0) return 1.0;
  return static_cast<double>(s.used_bytes) / static_cast<double>(s.capacity_bytes);
}

double UsageGapPct(const std::vector<BalanceServer>& servers) {
  if (servers.size() < 2) return 0;
  double lo = 2, hi = -1;
  for (const BalanceServer& s : servers) {
    lo = std::min(lo, UsageOf(s));
    hi = std::max(hi, UsageOf(s));
  }
  return (hi - lo) * 100.0;
}

namespace {

// (distinct hosts, distinct racks) of some servers.
std::pair<size_t, size_t> Spread(const std::vector<const BalanceServer*>& servers) {
  std::set<std::string> hosts, racks;
  for (const BalanceServer* s : servers) {
    hosts.insert(s->host);
    racks.insert(s->rack);
  }
  return {hosts.size(), racks.size()};
}

// The most used server (ties: the lowest id).
const BalanceServer* MostUsed(const std::vector<BalanceServer>& servers) {
  const BalanceServer* most = nullptr;
  for (const BalanceServer& s : servers) {
    if (!most || UsageOf(s) > UsageOf(*most) || (UsageOf(s) == UsageOf(*most) && s.id < most->id)) {
      most = &s;
    }
  }
  return most;
}

}  // namespace

std::vector<BalanceMove> PlanRebalance(std::vector<BalanceServer> servers,
                                       const std::vector<BalanceChunk>& chunks, int32_t source,
                                       double margin_pct, int max_moves, bool fallback) {
  std::vector<BalanceMove> moves;
  std::map<int32_t, size_t> index;
  for (size_t i = 0; i < servers.size(); ++i) index[servers[i].id] = i;
  if (!index.count(source)) return moves;
  std::set<int64_t> moved;
  while (static_cast<int>(moves.size()) < max_moves) {
    if (UsageGapPct(servers) <= margin_pct) break;
    BalanceServer& from = servers[index[source]];
    if (fallback) {
      // Only while it is above the least used by more than the margin.
      double least = 2;
      for (const BalanceServer& s : servers) least = std::min(least, UsageOf(s));
      if ((UsageOf(from) - least) * 100.0 <= margin_pct) break;
    } else {
      const BalanceServer* most = MostUsed(servers);
      if (most == nullptr || most->id != source) break;  // another server's turn: next pass
    }
    // Targets: the least used first (ties: the lowest id).
    std::vector<size_t> order;
    for (size_t i = 0; i < servers.size(); ++i) {
      if (servers[i].id != source) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::make_pair(UsageOf(servers[a]), servers[a].id) <
             std::make_pair(UsageOf(servers[b]), servers[b].id);
    });
    bool found = false;
    for (const BalanceChunk& c : chunks) {
      if (c.length <= 0 || moved.count(c.id)) continue;
      if (std::find(c.live.begin(), c.live.end(), source) == c.live.end()) continue;
      std::vector<const BalanceServer*> before, rest;
      bool known = true;
      for (int32_t id : c.live) {
        auto it = index.find(id);
        if (it == index.end()) {
          known = false;  // a replica on a server outside the set: leave the chunk alone
          break;
        }
        before.push_back(&servers[it->second]);
        if (id != source) rest.push_back(&servers[it->second]);
      }
      if (!known) continue;
      const std::set<int32_t> holders(c.holders.begin(), c.holders.end());
      for (size_t ti : order) {
        BalanceServer& to = servers[ti];
        if (holders.count(to.id) ||
            std::find(c.live.begin(), c.live.end(), to.id) != c.live.end()) {
          continue;
        }
        if (to.used_bytes + c.length > to.capacity_bytes) continue;  // no room
        BalanceServer from_after = from, to_after = to;
        from_after.used_bytes -= c.length;
        to_after.used_bytes += c.length;
        const double u_from = UsageOf(from), u_to = UsageOf(to);
        const double a_from = UsageOf(from_after), a_to = UsageOf(to_after);
        // Narrows the pair's gap (never overshoots into a reverse move).
        if (!(a_to < u_from && std::abs(a_from - a_to) < u_from - u_to)) continue;
        // Spread stays as good, on hosts and on racks.
        std::vector<const BalanceServer*> after = rest;
        after.push_back(&to);
        const auto s_before = Spread(before), s_after = Spread(after);
        if (s_after.first < s_before.first || s_after.second < s_before.second) continue;
        // The trim's choice over the other replicas, the target, then the
        // source: it must keep the target and drop the source.
        std::vector<std::pair<std::string, std::string>> where;
        for (const BalanceServer* s : rest) where.emplace_back(s->host, s->rack);
        where.emplace_back(to.host, to.rack);
        where.emplace_back(from.host, from.rack);
        bool keeps_source = false, keeps_target = false;
        for (size_t k : ChooseKept(where, static_cast<int>(c.live.size()))) {
          keeps_source = keeps_source || k == where.size() - 1;
          keeps_target = keeps_target || k == where.size() - 2;
        }
        if (keeps_source || !keeps_target) continue;
        moves.push_back(BalanceMove{c.id, c.version, c.length, source, to.id});
        moved.insert(c.id);
        from.used_bytes -= c.length;
        to.used_bytes += c.length;
        found = true;
        break;
      }
      if (found) break;
    }
    if (!found) break;
  }
  return moves;
}

}  // namespace ddbfs::meta
