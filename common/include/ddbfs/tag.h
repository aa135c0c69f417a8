#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ddbfs {

// A tag of a document (docs/tags.md): a name, or a name with a value.
struct Tag {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const Tag&) const = default;
};

// How many documents carry a tag (or one of its values), and the bytes of
// the regular files among them.
struct TagCount {
  std::string name;
  std::optional<std::string> value;
  int64_t documents = 0;
  int64_t bytes = 0;
};

// A query saved by name in the cluster (docs/tags.md), seen by every client.
struct SavedQuery {
  std::string name;
  std::string expr;
  uint32_t owner_uid = 0;  // who saved it: only they (or root) replace or remove it
};

}  // namespace ddbfs
