#pragma once

// Text and JSON formatting shared by the commands.

#include <cstdint>
#include <string>
#include <string_view>

#include "ddbfs/client.h"

namespace ddbfs::cli {

// "drwxr-xr-x" style string of a type and permission bits.
std::string ModeString(FileType type, uint32_t mode);
// "0644".
std::string OctalMode(uint32_t mode);
// "1.5 GiB", "812 B".
std::string HumanBytes(uint64_t bytes);
// Local time "2021-05-06 07:08" (ls -l).
std::string ShortTime(int64_t ns);
// Local time "2021-05-06 07:08:09.123456789 +0200" (info).
std::string FullTime(int64_t ns);

// A name or path as a terminal line may show it: control characters and the
// backslash escaped (\n, \t, \\, \xHH), as `ls --quoting-style=escape`, so
// that a name can neither break a listing into lines nor send escape codes.
std::string Shown(std::string_view s);

// A JSON string literal (quoted, escaped; bytes that are not valid UTF-8
// are written as \u00XX so the output always parses).
std::string JsonString(std::string_view s);

// Builds one JSON object, keys in insertion order.
class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, int64_t value);
  JsonObject& Add(std::string_view key, uint64_t value);
  JsonObject& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  JsonObject& Add(std::string_view key, uint32_t value) {
    return Add(key, static_cast<uint64_t>(value));
  }
  JsonObject& Add(std::string_view key, bool value);
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  std::string str() const { return body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_ = "{";
};

// The JSON object `ls --json` prints for one entry.
std::string EntryJson(const std::string& name, const std::string& path, const Attr& a,
                      const std::string* symlink_target);

}  // namespace ddbfs::cli
