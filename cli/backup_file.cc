#include "backup_file.h"

#include <time.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

namespace ddbfs::cli {

namespace {

constexpr std::string_view kMagic = "DDBFS-BACKUP 1\n";

std::string IsoTime(int64_t unix_ms) {
  time_t secs = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

bool ParseInt(const std::string& text, int64_t* out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end;
}

}  // namespace

std::string UtcTime(int64_t unix_ms) {
  time_t secs = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

Result<std::string> FormatBackupHeader(const BackupHeader& h) {
  std::ostringstream out;
  out << kMagic
      << "# A DDBFS metadata backup (docs/backup.md): this header of 4096 bytes, then a\n"
         "# pg_dump custom-format archive of the schemas ddbfs and ddbfs_secret, taken in\n"
         "# one snapshot. Restore it with: ddbfs restore --db URL FILE\n"
      << "taken_at: " << IsoTime(h.taken_unix_ms) << '\n'
      << "taken_unix_ms: " << h.taken_unix_ms << '\n'
      << "database: " << h.database << '\n'
      << "schema_version: " << h.schema_version << '\n'
      << "last_chunk_id: " << h.last_chunk_id << '\n'
      << "files: " << h.files << '\n'
      << "directories: " << h.directories << '\n'
      << "data_bytes: " << h.data_bytes << '\n'
      << "postgresql: " << h.server_version_num << '\n'
      << "archive_bytes: " << h.archive_bytes << '\n'
      << "archive_sha256: " << h.archive_sha256 << '\n';
  std::string text = out.str();
  if (text.size() + 1 > kBackupHeaderBytes) {
    return InvalidArgument("backup header too long (database name of " +
                           std::to_string(h.database.size()) + " bytes?)");
  }
  text.append(kBackupHeaderBytes - 1 - text.size(), ' ');
  text.push_back('\n');
  return text;
}

Result<BackupHeader> ParseBackupHeader(std::string_view bytes) {
  if (bytes.size() < kBackupHeaderBytes || bytes.substr(0, kMagic.size()) != kMagic) {
    return InvalidArgument("not a DDBFS backup (it does not start with a DDBFS-BACKUP header)");
  }
  std::map<std::string, std::string> fields;
  std::istringstream in(
      std::string(bytes.substr(kMagic.size(), kBackupHeaderBytes - kMagic.size())));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == ' ') break;  // the padding
    size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      return InvalidArgument("not a DDBFS backup (bad header line '" + line.substr(0, 40) + "')");
    }
    fields[line.substr(0, colon)] = line.substr(colon + 2);
  }
  BackupHeader h;
  const std::pair<const char*, int64_t*> numbers[] = {
      {"taken_unix_ms", &h.taken_unix_ms},   {"schema_version", &h.schema_version},
      {"last_chunk_id", &h.last_chunk_id},   {"files", &h.files},
      {"directories", &h.directories},       {"data_bytes", &h.data_bytes},
      {"postgresql", &h.server_version_num},
  };
  for (const auto& [key, dest] : numbers) {
    auto it = fields.find(key);
    if (it == fields.end() || !ParseInt(it->second, dest)) {
      return InvalidArgument(std::string("not a DDBFS backup (header field ") + key +
                             " missing or bad)");
    }
  }
  int64_t archive_bytes = 0;
  auto it = fields.find("archive_bytes");
  if (it == fields.end() || !ParseInt(it->second, &archive_bytes) || archive_bytes <= 0) {
    return InvalidArgument("not a complete DDBFS backup (no archive size in its header)");
  }
  h.archive_bytes = static_cast<uint64_t>(archive_bytes);
  h.database = fields["database"];
  h.archive_sha256 = fields["archive_sha256"];
  if (h.archive_sha256.size() != 64) {
    return InvalidArgument("not a complete DDBFS backup (no archive checksum in its header)");
  }
  return h;
}

}  // namespace ddbfs::cli
