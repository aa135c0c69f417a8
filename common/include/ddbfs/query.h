#pragma once

// The query language of tags (docs/query_language.md): a parser from text to
// a tree, the canonical text of a tree, and the checks of tag names and
// values. Shared by the metaserver (which compiles a tree to SQL) and the
// front ends (which show a syntax error before sending anything).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/status.h"

namespace ddbfs::query {

// Bounds on what one query may make a server build.
inline constexpr size_t kMaxQueryBytes = 4096;
inline constexpr int kMaxTerms = 256;
inline constexpr int kMaxDepth = 64;
inline constexpr size_t kMaxTagNameBytes = 200;
inline constexpr size_t kMaxTagValueBytes = 200;

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
const char* OpText(Op op);

// Built-in attributes, written @name.
enum class Attr { kSize, kMtime, kCtime, kName, kPath, kType };
const char* AttrText(Attr a);  // without the '@'

// How a literal value compares (docs/query_language.md, "Comparing values").
enum class ValueKind { kNumber, kTime, kText };

struct Value {
  std::string text;   // as written (unquoted)
  bool glob = false;  // a bare word holding * or ?
  ValueKind kind = ValueKind::kText;
  double number = 0;    // kNumber (for @size: bytes, suffix applied)
  int64_t time_ns = 0;  // kTime: nanoseconds since the epoch, UTC
};

struct Node {
  enum class Kind { kAnd, kOr, kNot, kTag, kAttr };
  Kind kind = Kind::kTag;
  int column = 1;                               // 1-based column (in characters) where it starts
  std::vector<std::unique_ptr<Node>> children;  // kAnd, kOr (2 or more), kNot (1)
  // kTag: the name (a glob if name_glob); has_value false: "carries the tag".
  std::string name;
  bool name_glob = false;
  bool has_value = false;
  // kTag with a value, kAttr: the comparison.
  Op op = Op::kEq;
  Attr attr = Attr::kSize;
  Value value;
  // Written in parentheses (the parser keeps "a and (b and c)" as written,
  // so that ToString gives the same tree back).
  bool parenthesized = false;
};

// Parses `text`. A syntax error is kInvalidArgument "column N: ..." saying
// what was expected; an empty query is an error too.
Result<std::unique_ptr<Node>> Parse(std::string_view text);

// The canonical text of a tree: fully parenthesized where needed, names and
// values quoted where needed. Parse(ToString(t)) gives the same tree (up to
// columns).
std::string ToString(const Node& n);

// Checks of stored tag names and values (kInvalidArgument saying why).
// Names: not empty, at most kMaxTagNameBytes of valid UTF-8, no '/', '=',
// white space or control characters. Values: at most kMaxTagValueBytes of
// valid UTF-8, no '/' or control characters (may be empty).
Status ValidateTagName(std::string_view name);
Status ValidateTagValue(std::string_view value);

// The kind of a value as stored and compared: a number if it parses as one,
// else an ISO 8601 date/time, else text (number/time_ns filled in).
Value Classify(std::string_view text);

}  // namespace ddbfs::query
