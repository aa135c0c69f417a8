#pragma once

// Undo of a tag change (the browser's Ctrl+Z): the change is applied with
// each document's tags read before and after, so that the undo puts back
// exactly what was there — a tag added to a document that already carried
// it stays on undo, a value taken off comes back.

#include <cstddef>
#include <map>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::gui {

struct TagChange {
  std::vector<InodeId> inodes;
  std::vector<Tag> add;
  std::vector<Tag> remove;
};

// Up to this many documents are read before and after (2 GetTags each);
// a larger change is undone by its plain inverse (remove what it added,
// add what it removed).
inline constexpr size_t kUndoTrackLimit = 2000;

// The changes that take each document from `after` back to `before`:
// remove what it gained, add back what it lost (and, when a plain name it
// gained is removed, the values of that name it had); documents that need
// the same are grouped into one change.
std::vector<TagChange> InverseOf(const std::map<InodeId, std::vector<Tag>>& before,
                                 const std::map<InodeId, std::vector<Tag>>& after);

// Applies `change` (one TagMany) and returns the changes that undo it and
// those that redo it: both only for the documents whose tags changed (a
// document that already carried an added tag is in neither), each taking
// the documents exactly to their tags before (undo) or after (redo).
struct AppliedTagChange {
  int changed = 0;  // documents whose tags changed
  std::vector<TagChange> undo;
  std::vector<TagChange> redo;
};
Result<AppliedTagChange> ApplyTagChange(Client& c, const TagChange& change);

// Applies `changes` in order (one TagMany each); returns how many documents
// changed.
Result<int> ApplyTagChanges(Client& c, const std::vector<TagChange>& changes);

}  // namespace ddbfs::gui
