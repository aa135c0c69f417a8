#include "model_node.h"

namespace ddbfs::gui {

int ModelNode::row() const {
  if (!parent) return 0;
  for (size_t i = 0; i < parent->children.size(); ++i) {
    if (parent->children[i].get() == this) return static_cast<int>(i);
  }
  return 0;
}

std::vector<ModelNode::Phase> ModelNode::PhasesFor(Kind kind) {
  switch (kind) {
    case Kind::kRoot:
      return {};
    case Kind::kTagsCategory:
      return {Phase::kTagList};
    case Kind::kFoldersCategory:
    case Kind::kFolder:
      return {Phase::kDirectory};
    case Kind::kQueriesCategory:
      return {Phase::kQueries};
    case Kind::kTag:
      return {Phase::kValues, Phase::kTags, Phase::kDocuments};
    case Kind::kSearch:
    case Kind::kSavedQuery:
    case Kind::kValue:
    case Kind::kAnyValue:
      return {Phase::kTags, Phase::kDocuments};
    case Kind::kDocument:
      return {};
  }
  return {};
}

std::unique_ptr<ModelNode> ModelNode::Make(Kind kind, ModelNode* parent) {
  auto n = std::make_unique<ModelNode>();
  n->kind = kind;
  n->parent = parent;
  n->phases = PhasesFor(kind);
  if (parent) n->used_tags = parent->used_tags;
  return n;
}

}  // namespace ddbfs::gui
