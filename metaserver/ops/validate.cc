#include "metaserver/ops/validate.h"

namespace ddbfs::meta {

namespace {
// Names in messages: at most 64 bytes, so a huge bad name does not flood logs.
std::string Quote(std::string_view text) {
  std::string out = "'" + std::string(text.substr(0, 64));
  if (text.size() > 64) out += "...";
  return out + "'";
}
}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgument("empty file name");
  if (name.size() > kMaxNameLength) {
    return Status(ErrorCode::kNameTooLong, "name of " + std::to_string(name.size()) +
                                               " bytes is longer than " +
                                               std::to_string(kMaxNameLength));
  }
  if (name == "." || name == "..")
    return InvalidArgument("'" + std::string(name) + "' is not a valid name");
  if (name.find('/') != std::string_view::npos) {
    return InvalidArgument("name " + Quote(name) + " contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    return InvalidArgument("name contains a NUL byte");
  }
  if (!IsValidUtf8(name)) return InvalidArgument("name " + Quote(name) + " is not valid UTF-8");
  return Status();
}

Status ValidateAtimeReadCount(size_t n) {
  if (n <= kMaxAtimeReads) return Status();
  return InvalidArgument(std::to_string(n) + " atime updates in one call (at most " +
                         std::to_string(kMaxAtimeReads) + ")");
}

Status ValidateInode(InodeId inode, std::string_view what) {
  if (inode <= 0) {
    return InvalidArgument(std::string(what) + " " + std::to_string(inode) +
                           " is not a valid inode number");
  }
  return Status();
}

Status ValidateText(std::string_view text, std::string_view what) {
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " contains a NUL byte");
  }
  if (!IsValidUtf8(text)) return InvalidArgument(std::string(what) + " is not valid UTF-8");
  return Status();
}

Result<std::vector<std::string>> SplitPath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return InvalidArgument("path " + Quote(path) + " is not absolute");
  }
  if (path.size() > kMaxPathLength) {
    return Status(ErrorCode::kNameTooLong, "path is longer than " + std::to_string(kMaxPathLength));
  }
  std::vector<std::string> out;
  if (path == "/") return out;
  if (path.back() == '/') return InvalidArgument("path " + Quote(path) + " ends with '/'");
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return InvalidArgument("path " + Quote(path) + " has an empty component");
    Status s = ValidateName(part);
    if (!s.ok()) return s.WithContext("path " + Quote(path));
    out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace ddbfs::meta
