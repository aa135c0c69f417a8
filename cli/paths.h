#pragma once

// DDBFS path helpers for the CLI: DDBFS paths are absolute, normalized
// lexically ("//" and "." dropped, ".." resolved, no trailing "/").

#include <string>
#include <string_view>

#include "ddbfs/client.h"

namespace ddbfs::cli {

// "/a/b" from "/a//./b/"; InvalidArgument "paths in DDBFS are absolute:
// /photos, not photos" for a relative path. A ".." after a name is refused
// (InvalidArgument): dropping "/missing/.." as text would act on a path the
// user did not mean (`rm -r /a/missing/../b` removing /a/b), where POSIX
// fails because /a/missing does not exist. `lexical_dotdot` resolves it as
// text instead, for symlink targets that are joined to their link's folder.
Result<std::string> NormalizePath(std::string_view path, bool lexical_dotdot = false);

// "/a" for "/a/b", "/" for "/a" and "/".
std::string ParentOf(const std::string& path);
// "b" for "/a/b", "" for "/".
std::string BaseName(const std::string& path);
// "/a" + "b" -> "/a/b", "/" + "b" -> "/b".
std::string JoinPath(const std::string& dir, std::string_view name);

// Last component of a local path, ignoring trailing slashes ("x/y/" -> "y").
std::string LocalBaseName(const std::string& path);

// A failed local file operation: "cannot create /x/y (permission denied) —
// check the local path", with the code that matches errno.
Status LocalError(const std::string& what, const std::string& path, int err);

// The parent directory of `path` and the name in it: resolves the parent
// (which must be a directory). NotFound / NotDir name the parent.
struct ParentAndName {
  Attr parent;
  std::string name;
};
Result<ParentAndName> ResolveParent(Client& client, const std::string& path);

// "file", "dir" or "symlink".
const char* TypeName(FileType type);

}  // namespace ddbfs::cli
