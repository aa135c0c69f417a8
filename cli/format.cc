#include "format.h"

#include <cstdio>
#include <ctime>

#include "paths.h"

namespace ddbfs::cli {

std::string ModeString(FileType type, uint32_t mode) {
  std::string s(10, '-');
  switch (type) {
    case FileType::kDirectory:
      s[0] = 'd';
      break;
    case FileType::kSymlink:
      s[0] = 'l';
      break;
    case FileType::kFifo:
      s[0] = 'p';
      break;
    case FileType::kSocket:
      s[0] = 's';
      break;
    case FileType::kCharDevice:
      s[0] = 'c';
      break;
    case FileType::kBlockDevice:
      s[0] = 'b';
      break;
    case FileType::kRegular:
      s[0] = '-';
      break;
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & (0400u >> i)) s[1 + i] = rwx[i];
  }
  if (mode & 04000) s[3] = (mode & 0100) ? 's' : 'S';
  if (mode & 02000) s[6] = (mode & 010) ? 's' : 'S';
  if (mode & 01000) s[9] = (mode & 01) ? 't' : 'T';
  return s;
}

std::string OctalMode(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[unit]);
  return buf;
}

namespace {
std::tm LocalTm(int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  if (ns < 0 && ns % 1000000000 != 0) --secs;
  std::tm tm{};
  localtime_r(&secs, &tm);
  return tm;
}
}  // namespace

std::string ShortTime(int64_t ns) {
  std::tm tm = LocalTm(ns);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string FullTime(int64_t ns) {
  std::tm tm = LocalTm(ns);
  char date[32];
  char zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);
  int64_t frac = ns % 1000000000;
  if (frac < 0) frac += 1000000000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s.%09lld %s", date, static_cast<long long>(frac), zone);
  return buf;
}

std::string Shown(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char buf[8];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Copy a well-formed UTF-8 sequence; escape a stray byte.
      size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
      bool ok = len > 0 && c < 0xf5 && i + len <= s.size();
      for (size_t k = 1; ok && k < len; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (ok) {
        out.append(s.substr(i, len));
        i += len;
        continue;
      }
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
    ++i;
  }
  out += '"';
  return out;
}

void JsonObject::Key(std::string_view key) {
  if (body_.size() > 1) body_ += ", ";
  body_ += JsonString(key);
  body_ += ": ";
}

JsonObject& JsonObject::Add(std::string_view key, std::string_view value) {
  Key(key);
  body_ += JsonString(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, int64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, uint64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::AddRaw(std::string_view key, std::string_view json) {
  Key(key);
  body_ += json;
  return *this;
}

std::string EntryJson(const std::string& name, const std::string& path, const Attr& a,
                      const std::string* symlink_target) {
  JsonObject o;
  o.Add("name", name)
      .Add("path", path)
      .Add("type", TypeName(a.type))
      .Add("mode", OctalMode(a.mode))
      .Add("size", a.size)
      .Add("mtime_ns", a.mtime_ns)
      .Add("inode", static_cast<int64_t>(a.inode))
      .Add("nlink", a.nlink)
      .Add("uid", a.uid)
      .Add("gid", a.gid)
      .Add("goal", a.goal);
  if (symlink_target) o.Add("target", *symlink_target);
  return o.str();
}

}  // namespace ddbfs::cli
