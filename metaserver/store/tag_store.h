#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
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

// Puts `tags` on `inode` (names created when new), in one statement;
// nothing for those it carries already.
Status AddTags(Tx& tx, InodeId inode, const std::vector<TagRow>& tags, int64_t now_ns);
// Takes `name` off `inode`: with a value only that value, without one the
// name and all its values. Returns how many rows went.
Result<int> RemoveTag(Tx& tx, InodeId inode, const std::string& name,
                      const std::optional<std::string>& value);
// The tags of `inode`, by name then value (a name alone first).
Result<std::vector<Tag>> GetTags(Tx& tx, InodeId inode);
// How many tags `inode` carries.
Result<int64_t> CountTags(Tx& tx, InodeId inode);

// Tag counts (ListTags). `where`/`params`: a compiled query over
// `ddbfs.inodes i` (empty: every document). `reach_as`: count only inodes
// that caller reaches by some path from `confine` (search permission on
// each directory of the way), else every named inode. `name`: the values
// of that tag, else the names (every name, also those no document carries,
// when `where` is empty). Implication rules count as the query does.
struct TagCountSpec {
  std::string where;
  std::vector<std::string> params;
  std::optional<Caller> reach_as;
  InodeId confine = kRootInode;
  std::optional<std::string> name;
  int offset = 0;
  int limit = 1000;
};
struct TagCountRow {
  std::string name;
  std::optional<std::string> value;
  int64_t documents = 0;
  int64_t bytes = 0;
};
Result<std::vector<TagCountRow>> CountTagsBy(Tx& tx, const TagCountSpec& spec);

// TagMany: the same change on many inodes (as RemoveTag / AddTag above);
// the inodes whose tags changed are added to `changed`.
Status AddTagMany(Tx& tx, const std::vector<InodeId>& inodes, const TagRow& tag, int64_t now_ns,
                  std::set<InodeId>* changed);
Status RemoveTagMany(Tx& tx, const std::vector<InodeId>& inodes, const std::string& name,
                     const std::optional<std::string>& value, std::set<InodeId>* changed);
// The inodes of `inodes` that carry more than `max` tags.
Result<std::vector<InodeId>> OverTagLimit(Tx& tx, const std::vector<InodeId>& inodes, int64_t max);

// Tag names, by name: `limit` after `offset`.
Result<std::vector<std::string>> TagNames(Tx& tx, int offset, int limit);
// Tag names. The id of `name` (NFC), nullopt when there is none.
Result<std::optional<int64_t>> TagId(Tx& tx, const std::string& name);
// Creates `name`; false when it was there.
Result<bool> CreateTagName(Tx& tx, const std::string& name, int64_t now_ns);
Status RenameTagName(Tx& tx, int64_t id, const std::string& new_name);
// Every document with `from` gets `into` with the same values, the rules of
// `from` become rules of `into` (but for rules between the two), and
// `from` goes. Returns how many documents carried `from`.
Result<int64_t> MergeTagInto(Tx& tx, int64_t from, int64_t into);
// Deletes `id` with its doc_tags and rules; returns how many documents
// carried it.
Result<int64_t> DeleteTagName(Tx& tx, int64_t id);
// Whether any document carries `id`, or a rule names it.
Result<bool> TagInUse(Tx& tx, int64_t id);
// Whether `from` implies `to`, directly or through other rules.
Result<bool> Implies(Tx& tx, int64_t from, int64_t to);
// Adds the rule; false when it was there.
Result<bool> AddImplication(Tx& tx, int64_t tag, int64_t implied);
// Removes the rule; false when there was none.
Result<bool> RemoveImplication(Tx& tx, int64_t tag, int64_t implied);
// Whether the rules hold a cycle.
Result<bool> ImplicationCycle(Tx& tx);
Result<std::vector<std::pair<std::string, std::string>>> ListImplicationRules(Tx& tx);

// Saved queries (ddbfs.saved_queries), by name.
Result<std::optional<SavedQuery>> GetSavedQuery(Tx& tx, const std::string& name);
Status PutSavedQuery(Tx& tx, const SavedQuery& q, int64_t now_ns);  // creates or replaces
Status DeleteSavedQuery(Tx& tx, const std::string& name);
Result<std::vector<SavedQuery>> ListSavedQueries(Tx& tx);

}  // namespace ddbfs::meta::store
