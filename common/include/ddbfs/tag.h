#pragma once

#include <optional>
#include <string>

namespace ddbfs {

// A tag of a document (docs/tags.md): a name, or a name with a value.
struct Tag {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const Tag&) const = default;
};

}  // namespace ddbfs
