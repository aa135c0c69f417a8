#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/tx.h"

// Tags of documents (sql/011_tags.sql, docs/tags.md). Names and values are
// normalized to NFC by PostgreSQL as they are stored and looked up.
namespace ddbfs::meta::store {

// A tag to store: the value's number / time when it reads as one
// (query::Classify), for range queries.
struct TagRow {
  std::string name;
  std::optional<std::string> value;
  std::optional<double> value_num;
  std::optional<int64_t> value_ns;
};

// Puts `tag` on `inode` (the name is created when new); nothing when it is
// there already.
Status AddTag(Tx& tx, InodeId inode, const TagRow& tag, int64_t now_ns);
// Takes `name` off `inode`: with a value only that value, without one the
// name and all its values. Returns how many rows went.
Result<int> RemoveTag(Tx& tx, InodeId inode, const std::string& name,
                      const std::optional<std::string>& value);
// The tags of `inode`, by name then value (a name alone first).
Result<std::vector<Tag>> GetTags(Tx& tx, InodeId inode);
// How many tags `inode` carries.
Result<int64_t> CountTags(Tx& tx, InodeId inode);

// Saved queries (ddbfs.saved_queries), by name.
Result<std::optional<SavedQuery>> GetSavedQuery(Tx& tx, const std::string& name);
Status PutSavedQuery(Tx& tx, const SavedQuery& q, int64_t now_ns);  // creates or replaces
Status DeleteSavedQuery(Tx& tx, const std::string& name);
Result<std::vector<SavedQuery>> ListSavedQueries(Tx& tx);

}  // namespace ddbfs::meta::store
