#include <algorithm>

#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"

namespace ddbfs::meta {

Result<DirPage> ReadDir(OpContext& ctx, const Caller& caller, InodeId dir, std::string_view after,
                        int limit) {
  RETURN_IF_ERROR(ValidateInode(dir));
  if (limit < 0) return InvalidArgument("negative readdir limit " + std::to_string(limit));
  if (limit == 0) limit = kDefaultReadDirLimit;
  limit = std::min(limit, kMaxReadDirLimit);
  RETURN_IF_ERROR(ValidateText(after, "after_name"));
  const std::string a(after);
  DirPage out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    // One row more than asked tells whether more entries follow.
    ASSIGN_OR_RETURN(store::DirListing listing, store::ListDir(tx, dir, a, limit + 1));
    if (!listing.exists) return NotFound("no inode " + std::to_string(dir));
    if (listing.type != FileType::kDirectory) {
      return Status(ErrorCode::kNotDir, "inode " + std::to_string(dir) + " is not a directory");
    }
    RETURN_IF_ERROR(CheckAccess(listing.dir, caller, kMayRead, "readdir"));
    out.entries = std::move(listing.entries);
    out.more = static_cast<int>(out.entries.size()) > limit;
    if (out.more) out.entries.resize(limit);
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
