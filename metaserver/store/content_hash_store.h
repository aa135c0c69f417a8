#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

// Reads and writes of content hashes (sql/013_content_hash.sql,
// docs/content_hash.md): chunks.sha256 / sha256_len and inodes.sha256.
// Hashes cross this interface as raw bytes (32 of them).
namespace ddbfs::meta::store {

class Tx;

// One chunk of a file as the document hash needs it.
struct ChunkHashRow {
  int64_t id = 0;
  int64_t index = 0;
  int64_t length = 0;  // committed bytes (0: reads as zeros)
  std::optional<std::string> sha256;
  int64_t sha256_len = 0;  // bytes sha256 covers
};
// The chunks of `inode` with index < end, by index.
Result<std::vector<ChunkHashRow>> ChunkHashRows(Tx& tx, InodeId inode, int64_t end);

// Marks these chunks' hashes stale.
Status ForgetChunkHashes(Tx& tx, const std::vector<int64_t>& chunk_ids);

// Records a rehashed chunk's hash, if the chunk is still at `version` and
// its hash still stale. Returns whether it was recorded.
Result<bool> SetChunkHash(Tx& tx, int64_t chunk_id, int64_t version, const std::string& sha256,
                          int64_t sha256_len);

// Sets (nullopt: clears) a document's hash.
Status SetDocumentHash(Tx& tx, InodeId inode, const std::optional<std::string>& sha256);

struct DocumentHash {
  bool exists = false;
  std::optional<std::string> sha256;
  int64_t stale_chunks = 0;  // chunks with data and no hash
};
Result<DocumentHash> GetDocumentHash(Tx& tx, InodeId inode);

// A chunk the background rehash should hash: stale, with data, inside its
// file, not being written.
struct UnhashedChunk {
  int64_t id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;
  int64_t length = 0;
  uint64_t file_size = 0;
  std::vector<int32_t> replicas;  // servers holding the committed version
};
// Up to `limit` of them with id > after, by id.
Result<std::vector<UnhashedChunk>> UnhashedChunks(Tx& tx, int64_t after, int limit);

// Up to `limit` regular files with id > after whose hash is stale though
// none of their chunks needs hashing (holes only, or chunks hashed since):
// their hash only needs putting together.
Result<std::vector<InodeId>> DocumentsToAssemble(Tx& tx, InodeId after, int limit);

// Regular files with a known hash and size >= min_size, after (size,
// sha256, id) in that order, at most `limit`.
struct HashedDocument {
  InodeId id = 0;
  uint64_t size = 0;
  std::string sha256;
};
Result<std::vector<HashedDocument>> HashedDocuments(Tx& tx, uint64_t min_size, int64_t after_size,
                                                    const std::string& after_sha256,
                                                    InodeId after_id, int limit);
// Regular files with a stale hash and size >= min_size, id > after, by id.
Result<std::vector<InodeId>> UnhashedDocuments(Tx& tx, uint64_t min_size, InodeId after, int limit);

}  // namespace ddbfs::meta::store
