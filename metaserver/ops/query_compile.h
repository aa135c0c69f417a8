#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/query.h"
#include "ddbfs/status.h"

// A parsed query (query::Node) as one SQL condition over `ddbfs.inodes i`
// (docs/query_language.md, "How a query becomes SQL"). Every name, value
// and pattern is a bound parameter: the SQL text is made of fixed fragments
// and $n placeholders only.
namespace ddbfs::meta {

struct CompiledQuery {
  std::string where;                // a boolean SQL expression over i
  std::vector<std::string> params;  // $first_param.. in order, as text
};

// `resolve(path)`: the inode at an absolute path, nullopt when there is
// none (then @path terms match nothing). Placeholders start at
// `first_param`. kInvalidArgument for what the parser lets through but the
// compiler cannot use (an unknown @type, a glob in @path other than a final
// "/*").
Result<CompiledQuery> CompileQuery(
    const query::Node& root,
    const std::function<Result<std::optional<InodeId>>(const std::string&)>& resolve,
    int first_param = 1);

// A glob (* any run, ? one character) as a LIKE pattern with '\' escapes.
std::string GlobToLike(std::string_view glob);

}  // namespace ddbfs::meta
