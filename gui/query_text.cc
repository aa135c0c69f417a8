#include "query_text.h"

#include <cstdlib>
#include <memory>

#include "ddbfs/query.h"

namespace ddbfs::gui {

std::string TagTerm(std::string_view name, const std::optional<std::string>& value) {
  query::Node n;
  n.kind = query::Node::Kind::kTag;
  n.name = std::string(name);
  if (value) {
    n.has_value = true;
    n.op = query::Op::kEq;
    n.value = query::Classify(*value);
    n.value.text = *value;
    n.value.glob = false;
  }
  return query::ToString(n);
}

std::string Narrow(const std::string& selection, const std::string& term) {
  if (selection.empty()) return term;
  auto parsed = query::Parse(selection);
  // An "or" at the top binds looser than "and": keep it together.
  const bool wrap = !parsed.ok() || (*parsed)->kind == query::Node::Kind::kOr;
  return (wrap ? "(" + selection + ")" : selection) + " and " + term;
}

bool ValueLess(const std::string& a, const std::string& b) {
  const query::Value va = query::Classify(a);
  const query::Value vb = query::Classify(b);
  auto rank = [](query::ValueKind k) {
    return k == query::ValueKind::kNumber ? 0 : k == query::ValueKind::kTime ? 1 : 2;
  };
  if (rank(va.kind) != rank(vb.kind)) return rank(va.kind) < rank(vb.kind);
  if (va.kind == query::ValueKind::kNumber && va.number != vb.number) return va.number < vb.number;
  if (va.kind == query::ValueKind::kTime && va.time_ns != vb.time_ns)
    return va.time_ns < vb.time_ns;
  return a < b;
}

int ErrorColumn(std::string_view message) {
  constexpr std::string_view kColumn = "column ";
  const size_t at = message.find(kColumn);
  if (at == std::string_view::npos) return 0;
  return std::atoi(std::string(message.substr(at + kColumn.size())).c_str());
}

}  // namespace ddbfs::gui
