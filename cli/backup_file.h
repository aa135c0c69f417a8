#pragma once

// The file `ddbfs backup` writes (docs/backup.md, "The backup file"): a
// text header of exactly kBackupHeaderBytes, then a pg_dump custom-format
// archive of the schemas ddbfs and ddbfs_secret, all taken in one snapshot.
//
//   DDBFS-BACKUP 1
//   # comment lines
//   key: value          (taken_at, taken_unix_ms, database, schema_version,
//   ...                  last_chunk_id, files, directories, data_bytes,
//                        postgresql, archive_bytes, archive_sha256)
//   <spaces up to byte 4095, then a newline>
//
// The archive's size and SHA-256 are in the header, so a truncated or
// damaged file is refused before anything is restored. `head -c 4096 FILE`
// shows the header; `tail -c +4097 FILE` is a plain pg_dump archive.

#include <cstdint>
#include <string>
#include <string_view>

#include "ddbfs/status.h"

namespace ddbfs::cli {

inline constexpr size_t kBackupHeaderBytes = 4096;

struct BackupHeader {
  int64_t taken_unix_ms = 0;   // the snapshot's time, from the database's clock
  std::string database;        // current_database() of the dump
  int64_t schema_version = 0;  // highest migration applied (ddbfs.schema_migrations)
  int64_t last_chunk_id = 0;   // last value of ddbfs.chunk_ids
  int64_t files = 0;
  int64_t directories = 0;
  int64_t data_bytes = 0;          // sum of file sizes
  int64_t server_version_num = 0;  // PostgreSQL's, e.g. 150018
  uint64_t archive_bytes = 0;
  std::string archive_sha256;  // hex
};

// Exactly kBackupHeaderBytes (a value that does not fit is an error).
Result<std::string> FormatBackupHeader(const BackupHeader& h);

// Parses the first bytes of a file (at least kBackupHeaderBytes of them);
// kInvalidArgument when it is not a DDBFS backup header.
Result<BackupHeader> ParseBackupHeader(std::string_view bytes);

// "2026-11-27 07:40:12 UTC".
std::string UtcTime(int64_t unix_ms);

}  // namespace ddbfs::cli
