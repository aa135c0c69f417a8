#pragma once

// One item of the browser's tree (BrowserModel): what it is, what it shows,
// and how far its children are loaded. Owned by its parent; only the GUI
// thread touches nodes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::gui {

struct ModelNode {
  enum class Kind {
    kRoot,
    kTagsCategory,     // every tag with its count
    kFoldersCategory,  // the namespace from "/"
    kQueriesCategory,  // the cluster's saved queries
    kSearch,           // the search bar's query
    kSavedQuery,       // one saved query
    kTag,              // a tag, narrowing its parent's selection
    kValue,            // one value of a valued tag
    kAnyValue,         // a valued tag with any value (or none)
    kFolder,           // a directory
    kDocument,         // anything else: a leaf
  };
  // What a node's children are loaded as, in order (docs/browser.md).
  enum class Phase {
    kTagList,    // ListTags(): kTagsCategory
    kValues,     // ListTags(within, name): a valued tag's values, else on to kTags
    kTags,       // ListTags(within = query): co-occurring tags with counts
    kDocuments,  // Query(query): matching documents, paged
    kDirectory,  // ReadDir: paged
    kQueries,    // ListQueries
    kDone,
  };

  Kind kind = Kind::kRoot;
  ModelNode* parent = nullptr;
  std::vector<std::unique_ptr<ModelNode>> children;

  std::string name;  // shown: a tag name, "=value", a file name, a query name
  // kTag, kValue, kAnyValue: the tag (value for kValue).
  std::string tag;
  std::optional<std::string> value;
  // The selection this node's children narrow (kSearch, kSavedQuery, kTag,
  // kValue, kAnyValue); empty for the whole cluster.
  std::string query;
  // kTag: the selection it narrows (its parent's query; empty: everything).
  std::string within;
  // Tag names already on the way to this node (not offered again).
  std::vector<std::string> used_tags;
  int64_t count = -1;  // documents (tags and values); -1: none shown
  int64_t bytes = 0;
  // kFolder, kDocument (and kFoldersCategory for "/").
  std::string path;
  Attr attr;

  // Loading state.
  std::vector<Phase> phases;
  size_t phase = 0;
  int tag_offset = 0;       // kTagList, kTags: next offset
  InodeId doc_after = 0;    // kDocuments: next_after
  std::string dir_after;    // kDirectory: after name
  size_t tag_rows = 0;      // children that are tags or values (they come first)
  bool loading = false;     // a request is out
  bool failed = false;      // the last request failed; retried after a reconnect
  uint64_t generation = 0;  // bumped by a reload: stale answers are dropped

  Phase current_phase() const { return phase < phases.size() ? phases[phase] : Phase::kDone; }
  bool done() const { return current_phase() == Phase::kDone; }
  // Whether children can exist, from the kind alone (no listing).
  bool may_have_children() const { return kind != Kind::kDocument; }
  int row() const;
  // The phases a node of `kind` loads its children in.
  static std::vector<Phase> PhasesFor(Kind kind);
  // A new child of `parent` (not yet inserted).
  static std::unique_ptr<ModelNode> Make(Kind kind, ModelNode* parent);
};

}  // namespace ddbfs::gui
