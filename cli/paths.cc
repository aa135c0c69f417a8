#include "paths.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

namespace ddbfs::cli {

Result<std::string> NormalizePath(std::string_view path, bool lexical_dotdot) {
  if (path.empty() || path[0] != '/') {
    std::string given(path);
    return InvalidArgument("paths in DDBFS are absolute: /" + given + ", not " + given);
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && !lexical_dotdot) {
        return InvalidArgument("'..' is not resolved in DDBFS paths (" + std::string(path) +
                               "): give the path without it");
      }
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto p : parts) out.append("/").append(p);
  return out.empty() ? std::string("/") : out;
}

std::string ParentOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  if (dir == "/") return "/" + std::string(name);
  return dir + "/" + std::string(name);
}

std::string LocalBaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

Status LocalError(const std::string& what, const std::string& path, int err) {
  ErrorCode code = ErrorCode::kIoError;
  switch (err) {
    case ENOENT:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kExists;
      break;
    case ENOTDIR:
      code = ErrorCode::kNotDir;
      break;
    case EISDIR:
      code = ErrorCode::kIsDir;
      break;
    case EACCES:
    case EPERM:
      code = ErrorCode::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
      code = ErrorCode::kNoSpace;
      break;
    case ENAMETOOLONG:
      code = ErrorCode::kNameTooLong;
      break;
    default:
      break;
  }
  std::string reason = std::strerror(err);
  if (!reason.empty())
    reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  return Status(code, what + " " + path + " (" + reason + ") — check the local path");
}

Result<ParentAndName> ResolveParent(Client& client, const std::string& path) {
  const std::string parent_path = ParentOf(path);
  auto parent = client.ResolvePath(parent_path);
  if (!parent.ok()) {
    Status s = parent.status();
    if (s.code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kNotFound, "parent directory " + parent_path +
                                              " does not exist — create it with `ddbfs mkdir -p " +
                                              parent_path + "`");
    }
    return s;
  }
  if (parent->type != FileType::kDirectory) {
    return Status(ErrorCode::kNotDir, parent_path +
                                          " is not a directory — check the path with "
                                          "`ddbfs ls`");
  }
  return ParentAndName{*parent, BaseName(path)};
}

const char* TypeName(FileType type) {
  switch (type) {
    case FileType::kDirectory:
      return "dir";
    case FileType::kSymlink:
      return "symlink";
    case FileType::kFifo:
      return "fifo";
    case FileType::kSocket:
      return "socket";
    case FileType::kCharDevice:
      return "char device";
    case FileType::kBlockDevice:
      return "block device";
    case FileType::kRegular:
      return "file";
  }
  return "file";
}

}  // namespace ddbfs::cli
