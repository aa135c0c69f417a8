#include "metaserver/ops/content_hash.h"

#include <algorithm>

#include "ddbfs/constants.h"
#include "ddbfs/content_hash.h"
#include "ddbfs/log.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/content_hash_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"

namespace ddbfs::meta {

std::optional<std::string> AgreedHash(const ServerRegistry& servers, const ChunkCommitArgs& c,
                                      const std::vector<ReplicaHash>& proofs) {
  std::optional<std::string> agreed;
  for (int32_t id : c.written) {
    auto proof = std::find_if(proofs.begin(), proofs.end(),
                              [&](const ReplicaHash& h) { return h.server_id == id; });
    if (proof == proofs.end() || proof->version != c.version || proof->length != c.length) {
      return std::nullopt;
    }
    // The seal behind a proof lives in the server's memory: a server that
    // registered again since (a restart) may have forgotten it.
    std::optional<ServerState> server = servers.Get(id);
    if (!server || !server->registered || server->session != proof->session) return std::nullopt;
    if (agreed && *agreed != proof->sha256) {
      LOG(kWarn) << "replicas of chunk " << c.chunk_id << " version " << c.version
                 << " prove different SHA-256s; the chunk's hash stays stale";
      return std::nullopt;
    }
    agreed = proof->sha256;
  }
  return agreed;
}

Result<std::optional<std::string>> DocumentHashOf(store::Tx& tx, InodeId inode, uint64_t size,
                                                  int64_t max_chunks) {
  const int64_t chunks = static_cast<int64_t>((size + kChunkSize - 1) / kChunkSize);
  if (chunks > max_chunks || size > kMaxHashedSize) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::vector<store::ChunkHashRow> rows, store::ChunkHashRows(tx, inode, chunks));
  Sha256 doc;
  bool known = true;
  std::vector<int64_t> forget;
  size_t next = 0;
  for (int64_t i = 0; i < chunks; ++i) {
    const uint64_t start = static_cast<uint64_t>(i) * kChunkSize;
    const uint64_t range = std::min<uint64_t>(size - start, kChunkSize);
    const store::ChunkHashRow* row = nullptr;
    if (next < rows.size() && rows[next].index == i) row = &rows[next++];
    if (row == nullptr || row->length == 0) {
      // A hole, or a chunk never written: zeros.
      if (known) doc.Update(ZeroSha256(range));
    } else if (!row->sha256) {
      known = false;
    } else if (static_cast<uint64_t>(row->sha256_len) != range) {
      forget.push_back(row->id);  // the file grew or shrank past its hash
      known = false;
    } else if (known) {
      doc.Update(*row->sha256);
    }
  }
  if (!forget.empty()) RETURN_IF_ERROR(store::ForgetChunkHashes(tx, forget));
  return known ? std::optional<std::string>(doc.Digest()) : std::nullopt;
}

Status RefreshDocumentHash(store::Tx& tx, const Attr& file, int64_t max_chunks) {
  if (file.type != FileType::kRegular) return Status();
  ASSIGN_OR_RETURN(std::optional<std::string> sha256,
                   DocumentHashOf(tx, file.inode, file.size, max_chunks));
  return store::SetDocumentHash(tx, file.inode, sha256);
}

Result<ContentHashView> GetContentHash(OpContext& ctx, const Caller& caller, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  ContentHashView out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, inode));
    if (!attr) return NotFound("no inode " + std::to_string(inode));
    if (attr->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode) +
                                           " is a directory: only files have a content hash");
    }
    if (attr->type != FileType::kRegular) {
      return InvalidArgument("inode " + std::to_string(inode) +
                             " is not a regular file: only files have a content hash");
    }
    RETURN_IF_ERROR(CheckAccess(*attr, caller, kMayRead, "read the content hash of"));
    ASSIGN_OR_RETURN(store::DocumentHash h, store::GetDocumentHash(tx, inode));
    out.sha256 = h.sha256;
    out.size = attr->size;
    out.stale_chunks = h.stale_chunks;
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
