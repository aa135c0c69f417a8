#include <algorithm>
#include <map>

#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<AtimeResult> UpdateAtimes(OpContext& ctx, const Caller& caller,
                                 const std::vector<AtimeRead>& reads, bool relatime) {
  RETURN_IF_ERROR(ValidateAtimeReadCount(reads.size()));
  // One time per file (the latest), clamped to this clock.
  const int64_t now = NowNs();
  std::map<InodeId, int64_t> wanted;
  for (const AtimeRead& r : reads) {
    RETURN_IF_ERROR(ValidateInode(r.inode));
    const int64_t t = std::clamp(r.atime_ns, now - kAtimeMaxAgeNs, now);
    auto [it, fresh] = wanted.emplace(r.inode, t);
    if (!fresh) it->second = std::max(it->second, t);
  }
  AtimeResult out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    out = AtimeResult{};
    std::vector<InodeId> ids;
    for (const auto& [id, t] : wanted) ids.push_back(id);
    ASSIGN_OR_RETURN(std::vector<Attr> nodes, store::GetInodes(tx, ids));
    std::vector<InodeId> allowed;
    std::vector<int64_t> times;
    for (const Attr& node : nodes) {
      if (node.type != FileType::kRegular) continue;
      if (!CheckAccess(node, caller, kMayRead, "read").ok()) continue;
      allowed.push_back(node.inode);
      times.push_back(wanted[node.inode]);
    }
    out.skipped = static_cast<int>(wanted.size() - allowed.size());
    if (allowed.empty()) return Status();
    ASSIGN_OR_RETURN(out.updated,
                     store::UpdateAtimes(tx, allowed, times, relatime ? kRelatimeWindowNs : 0));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
