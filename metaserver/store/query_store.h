#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/tx.h"

// Reads for queries over documents (docs/tags.md, docs/query_language.md).
namespace ddbfs::meta::store {

// The inodes after `after` (by id) that satisfy `where` (a compiled query
// condition over `ddbfs.inodes i` whose placeholders are $1..$n, bound to
// `params`), at most `limit`, in id order.
Result<std::vector<InodeId>> MatchingInodes(Tx& tx, const std::string& where,
                                            const std::vector<std::string>& params, InodeId after,
                                            int limit);

// Those of `ids` (in id order) that satisfy `where`, in id order.
Result<std::vector<InodeId>> MatchingAmong(Tx& tx, const std::string& where,
                                           const std::vector<std::string>& params,
                                           const std::vector<InodeId>& ids);

// One step of the way from an inode up to the root: the name of the node
// below in `parent`, and the parent's attributes.
struct PathStep {
  std::string name;
  Attr parent;
};
// The way up from `inode` along its first name (lowest parent, then name)
// at each level, nearest first; empty for the root and for an inode without
// a name (an orphan: `named` false).
struct WayUp {
  std::vector<PathStep> steps;
  bool named = false;
};
// One statement for all of `inodes`; every one of them has an entry.
Result<std::map<InodeId, WayUp>> WaysUpOf(Tx& tx, const std::vector<InodeId>& inodes);

}  // namespace ddbfs::meta::store
