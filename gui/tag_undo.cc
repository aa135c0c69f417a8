#include "tag_undo.h"

#include <algorithm>

namespace ddbfs::gui {

namespace {

bool Has(const std::vector<Tag>& tags, const Tag& t) {
  return std::find(tags.begin(), tags.end(), t) != tags.end();
}

// A stable order for tags, to group documents by the change they need.
bool TagLess(const Tag& a, const Tag& b) {
  if (a.name != b.name) return a.name < b.name;
  return a.value < b.value;
}

}  // namespace

std::vector<TagChange> InverseOf(const std::map<InodeId, std::vector<Tag>>& before,
                                 const std::map<InodeId, std::vector<Tag>>& after) {
  // (add, remove) -> documents, in a deterministic order.
  std::map<std::pair<std::vector<std::string>, std::vector<std::string>>, TagChange> groups;
  for (const auto& [inode, now] : after) {
    auto it = before.find(inode);
    if (it == before.end()) continue;
    const std::vector<Tag>& was = it->second;
    TagChange c;
    for (const Tag& t : now) {
      if (!Has(was, t)) c.remove.push_back(t);
    }
    for (const Tag& t : was) {
      const bool lost = !Has(now, t);
      // Removing a plain name takes its values off too: put those back.
      const bool swept = t.value && Has(c.remove, Tag{t.name, std::nullopt});
      if (lost || swept) c.add.push_back(t);
    }
    if (c.add.empty() && c.remove.empty()) continue;
    std::sort(c.add.begin(), c.add.end(), TagLess);
    std::sort(c.remove.begin(), c.remove.end(), TagLess);
    std::vector<std::string> add_key;
    std::vector<std::string> remove_key;
    for (const Tag& t : c.add) add_key.push_back(TagText(t));
    for (const Tag& t : c.remove) remove_key.push_back(TagText(t));
    TagChange& g = groups[{add_key, remove_key}];
    if (g.inodes.empty()) {
      g.add = c.add;
      g.remove = c.remove;
    }
    g.inodes.push_back(inode);
  }
  std::vector<TagChange> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

Result<AppliedTagChange> ApplyTagChange(Client& c, const TagChange& change) {
  AppliedTagChange applied;
  if (change.inodes.size() > kUndoTrackLimit) {
    ASSIGN_OR_RETURN(applied.changed, c.TagMany(change.inodes, change.add, change.remove));
    applied.undo.push_back(TagChange{change.inodes, change.remove, change.add});
    applied.redo.push_back(change);
    return applied;
  }
  std::map<InodeId, std::vector<Tag>> before;
  for (InodeId i : change.inodes) {
    ASSIGN_OR_RETURN(before[i], c.GetTags(i));
  }
  ASSIGN_OR_RETURN(applied.changed, c.TagMany(change.inodes, change.add, change.remove));
  std::map<InodeId, std::vector<Tag>> after;
  for (InodeId i : change.inodes) {
    ASSIGN_OR_RETURN(after[i], c.GetTags(i));
  }
  applied.undo = InverseOf(before, after);
  applied.redo = InverseOf(after, before);
  return applied;
}

Result<int> ApplyTagChanges(Client& c, const std::vector<TagChange>& changes) {
  int changed = 0;
  for (const TagChange& ch : changes) {
    ASSIGN_OR_RETURN(int n, c.TagMany(ch.inodes, ch.add, ch.remove));
    changed += n;
  }
  return changed;
}

}  // namespace ddbfs::gui
