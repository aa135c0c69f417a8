#pragma once

// Query text the browser builds as the user narrows (docs/query_language.md):
// terms are built as query::Node trees and written with query::ToString, so
// a tag named like a keyword or holding operator characters is quoted.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ddbfs::gui {

// "photo", "year=2021", "\"c++\"".
std::string TagTerm(std::string_view name, const std::optional<std::string>& value);

// `selection` narrowed by `term`: "term" when selection is empty, else
// "(selection) and term" (parentheses only where the selection needs them).
std::string Narrow(const std::string& selection, const std::string& term);

// Orders tag values as the query language compares them: numbers (by
// value) first, then dates and times (by time), then text (byte order).
bool ValueLess(const std::string& a, const std::string& b);

// The 1-based column of a query syntax error message ("column 12: ...").
// 0 when the message names no column.
int ErrorColumn(std::string_view message);

}  // namespace ddbfs::gui
