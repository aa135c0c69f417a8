#include "metaserver/store/content_hash_store.h"

#include "ddbfs/auth.h"
#include "ddbfs/constants.h"
#include "ddbfs/content_hash.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// Hashes travel as hex text: decode($n, 'hex') in, encode(x, 'hex') out.
// Statements that need the chunk size or the largest hashed file size take
// them as parameters (kChunkSize, kMaxHashedSize).
constexpr Statement kChunkHashRows{
    "hash_chunk_rows",
    "SELECT id, idx, length, encode(sha256, 'hex'), COALESCE(sha256_len, 0) FROM ddbfs.chunks"
    " WHERE inode = $1 AND idx < $2 ORDER BY idx",
    false};

constexpr Statement kForgetChunkHashes{
    "hash_forget_chunks",
    "UPDATE ddbfs.chunks SET sha256 = NULL, sha256_len = NULL WHERE id = ANY($1::bigint[])", true};

constexpr Statement kSetChunkHash{
    "hash_set_chunk",
    "UPDATE ddbfs.chunks SET sha256 = decode($3, 'hex'), sha256_len = $4"
    " WHERE id = $1 AND version = $2 AND sha256 IS NULL RETURNING id",
    true};

constexpr Statement kSetDocumentHash{"hash_set_document",
                                     "UPDATE ddbfs.inodes SET sha256 = decode($2, 'hex')"
                                     " WHERE id = $1 AND sha256 IS DISTINCT FROM decode($2, 'hex')",
                                     true};

constexpr Statement kGetDocumentHash{
    "hash_get_document",
    "SELECT encode(i.sha256, 'hex'),"
    " (SELECT count(*) FROM ddbfs.chunks c WHERE c.inode = i.id AND c.sha256 IS NULL"
    "   AND c.length > 0 AND c.idx * $2 < i.size)"
    " FROM ddbfs.inodes i WHERE i.id = $1",
    false};

constexpr Statement kUnhashedChunks{
    "hash_unhashed_chunks",
    "SELECT c.id, c.inode, c.idx, c.version, c.length, i.size,"
    " ARRAY(SELECT r.server_id FROM ddbfs.replicas r"
    "       WHERE r.chunk_id = c.id AND r.version = c.version ORDER BY r.server_id)"
    " FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    " WHERE c.sha256 IS NULL AND c.length > 0 AND c.id > $1 AND c.lease_id IS NULL"
    "   AND i.type = 1 AND c.idx * $3 < i.size AND i.size <= $4"
    " ORDER BY c.id LIMIT $2",
    false};

constexpr Statement kDocumentsToAssemble{
    "hash_documents_to_assemble",
    "SELECT i.id FROM ddbfs.inodes i"
    " WHERE i.type = 1 AND i.sha256 IS NULL AND i.id > $1 AND i.size <= $4"
    "   AND NOT EXISTS (SELECT 1 FROM ddbfs.chunks c WHERE c.inode = i.id AND c.sha256 IS NULL"
    "                     AND c.length > 0 AND c.idx * $3 < i.size)"
    " ORDER BY i.id LIMIT $2",
    false};

constexpr Statement kHashedDocuments{"hash_documents_by_content",
                                     "SELECT id, size, encode(sha256, 'hex') FROM ddbfs.inodes"
                                     " WHERE type = 1 AND sha256 IS NOT NULL AND size >= $1"
                                     "   AND (size, sha256, id) > ($2, decode($3, 'hex'), $4)"
                                     " ORDER BY size, sha256, id LIMIT $5",
                                     false};

constexpr Statement kUnhashedDocuments{
    "hash_unhashed_documents",
    "SELECT id FROM ddbfs.inodes WHERE type = 1 AND sha256 IS NULL AND size >= $1 AND id > $2"
    " ORDER BY id LIMIT $3",
    false};

constexpr int64_t kChunk = static_cast<int64_t>(kChunkSize);
constexpr int64_t kMaxSize = static_cast<int64_t>(kMaxHashedSize);

std::string Raw(const pqxx::field& hex) {
  Result<std::string> raw = FromHex(hex.c_str());
  return raw.ok() ? *raw : std::string();
}

std::vector<InodeId> Ids(const pqxx::result& r) {
  std::vector<InodeId> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(row[0].as<int64_t>());
  return out;
}

}  // namespace

Result<std::vector<ChunkHashRow>> ChunkHashRows(Tx& tx, InodeId inode, int64_t end) {
  return Guard(tx, [&]() -> Result<std::vector<ChunkHashRow>> {
    std::vector<ChunkHashRow> out;
    for (const auto& row : tx.Exec(kChunkHashRows, inode, end)) {
      ChunkHashRow c;
      c.id = row[0].as<int64_t>();
      c.index = row[1].as<int64_t>();
      c.length = row[2].as<int64_t>();
      if (!row[3].is_null()) c.sha256 = Raw(row[3]);
      c.sha256_len = row[4].as<int64_t>();
      out.push_back(std::move(c));
    }
    return out;
  });
}

Status ForgetChunkHashes(Tx& tx, const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kForgetChunkHashes, PgArray(chunk_ids));
    return Status();
  });
}

Result<bool> SetChunkHash(Tx& tx, int64_t chunk_id, int64_t version, const std::string& sha256,
                          int64_t sha256_len) {
  return Guard(tx, [&]() -> Result<bool> {
    return !tx.Exec(kSetChunkHash, chunk_id, version, ToHex(sha256), sha256_len).empty();
  });
}

Status SetDocumentHash(Tx& tx, InodeId inode, const std::optional<std::string>& sha256) {
  return Guard(tx, [&]() -> Status {
    std::string hex;
    if (sha256) hex = ToHex(*sha256);
    // A null `const char*` is SQL NULL.
    tx.Exec(kSetDocumentHash, inode, sha256 ? hex.c_str() : nullptr);
    return Status();
  });
}

Result<DocumentHash> GetDocumentHash(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<DocumentHash> {
    pqxx::result r = tx.Exec(kGetDocumentHash, inode, kChunk);
    DocumentHash out;
    if (r.empty()) return out;
    out.exists = true;
    if (!r[0][0].is_null()) out.sha256 = Raw(r[0][0]);
    out.stale_chunks = r[0][1].as<int64_t>();
    return out;
  });
}

Result<std::vector<UnhashedChunk>> UnhashedChunks(Tx& tx, int64_t after, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<UnhashedChunk>> {
    std::vector<UnhashedChunk> out;
    for (const auto& row : tx.Exec(kUnhashedChunks, after, limit, kChunk, kMaxSize)) {
      UnhashedChunk c;
      c.id = row[0].as<int64_t>();
      c.inode = row[1].as<int64_t>();
      c.index = row[2].as<int64_t>();
      c.version = row[3].as<int64_t>();
      c.length = row[4].as<int64_t>();
      c.file_size = static_cast<uint64_t>(row[5].as<int64_t>());
      auto servers = row[6].as_array();
      for (auto e = servers.get_next(); e.first != pqxx::array_parser::juncture::done;
           e = servers.get_next()) {
        if (e.first == pqxx::array_parser::juncture::string_value) {
          c.replicas.push_back(static_cast<int32_t>(std::stol(e.second)));
        }
      }
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<std::vector<InodeId>> DocumentsToAssemble(Tx& tx, InodeId after, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    return Ids(tx.Exec(kDocumentsToAssemble, after, limit, kChunk, kMaxSize));
  });
}

Result<std::vector<HashedDocument>> HashedDocuments(Tx& tx, uint64_t min_size, int64_t after_size,
                                                    const std::string& after_sha256,
                                                    InodeId after_id, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<HashedDocument>> {
    std::vector<HashedDocument> out;
    for (const auto& row : tx.Exec(kHashedDocuments, static_cast<int64_t>(min_size), after_size,
                                   ToHex(after_sha256), after_id, limit)) {
      out.push_back(HashedDocument{row[0].as<int64_t>(),
                                   static_cast<uint64_t>(row[1].as<int64_t>()), Raw(row[2])});
    }
    return out;
  });
}

Result<std::vector<InodeId>> UnhashedDocuments(Tx& tx, uint64_t min_size, InodeId after,
                                               int limit) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    return Ids(tx.Exec(kUnhashedDocuments, static_cast<int64_t>(min_size), after, limit));
  });
}

}  // namespace ddbfs::meta::store
