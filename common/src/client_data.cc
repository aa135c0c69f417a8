// Client operations that touch chunk data or the chunk map: SetAttr with a
// size (truncate on the chunk servers first) and Chunks.

#include <algorithm>

#include "client_impl.h"
#include "ddbfs/client.h"
#include "ddbfs/constants.h"

namespace ddbfs {

namespace {

constexpr int kChunkPage = 256;

std::vector<int32_t> IdsOf(const std::vector<rpc::ServerAddress>& servers) {
  std::vector<int32_t> ids;
  for (const auto& s : servers) ids.push_back(s.server_id);
  return ids;
}

// Shortening a file to a size inside a chunk cuts that chunk on its
// replicas (PrepareWrite, TruncateChunk along the chain, CommitWrite); the
// metaserver's SetAttr then drops the whole chunks beyond. See
// docs/protocol.md, "Truncate".
Status ShortenLastChunk(Client::Impl* impl, InodeId inode, uint64_t new_size) {
  if (new_size % kChunkSize == 0) return Status();
  const int64_t index = static_cast<int64_t>(new_size / kChunkSize);
  const int64_t in_len = static_cast<int64_t>(new_size % kChunkSize);
  rpc::GetChunksResponse map;
  RETURN_IF_ERROR(impl->GetChunks(inode, index, 1, false, &map));
  if (map.attr.type != rpc::FileType::REGULAR) return Status();           // the metaserver refuses
  if (new_size >= static_cast<uint64_t>(map.attr.size)) return Status();  // growing
  if (map.chunks.empty() || map.chunks.front().length <= in_len) return Status();

  rpc::PrepareWriteResponse prep;
  RETURN_IF_ERROR(PrepareChunkWrite(impl, inode, index, &prep));
  ChainOutcome outcome = SendAlongChain(
      impl, prep.replicas,
      [&](rpc::ChunkServiceClient& head, const std::vector<rpc::ServerAddress>& chain,
          std::vector<rpc::ReplicaResult>* results, Status* own) {
        rpc::TruncateChunkRequest req;
        req.chunk_id = prep.chunk_id;
        req.version = prep.version;
        req.length = in_len;
        req.chain = chain;
        req.__set_cap(prep.capability);
        rpc::TruncateChunkResponse resp;
        head.TruncateChunk(resp, req);
        *results = std::move(resp.replicas);
        *own = FromRpc(resp.status);
      });
  if (outcome.ok.empty()) {
    return IoError("truncate of chunk " + std::to_string(index) + " (id " +
                   std::to_string(prep.chunk_id) + ") of inode " + std::to_string(inode) +
                   " failed on every replica: " + DescribeFailures(outcome.failed));
  }
  rpc::ChunkCommit commit;
  commit.index = index;
  commit.chunk_id = prep.chunk_id;
  commit.version = prep.version;
  commit.length = in_len;
  commit.written = IdsOf(outcome.ok);
  commit.lease_id = prep.lease_id;
  rpc::CommitWriteRequest creq;
  creq.ctx = impl->Context();
  creq.inode = inode;
  creq.chunks.push_back(std::move(commit));
  // The size stays until SetAttr: the metaserver drops the chunks beyond
  // the end only when SetAttr changes the size.
  creq.size = map.attr.size;
  rpc::CommitWriteResponse cresp;
  return impl->Meta("CommitWrite", &cresp,
                    [&](rpc::MetaServiceClient& c, auto& r) { c.CommitWrite(r, creq); });
}

}  // namespace

Result<Attr> Client::SetAttr(InodeId inode, const AttrChanges& changes) {
  if (changes.size) RETURN_IF_ERROR(ShortenLastChunk(impl_.get(), inode, *changes.size));
  rpc::SetAttrRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  if (changes.mode) req.__set_mode(static_cast<int32_t>(*changes.mode & 07777));
  if (changes.uid) req.__set_uid(static_cast<int32_t>(*changes.uid));
  if (changes.gid) req.__set_gid(static_cast<int32_t>(*changes.gid));
  if (changes.size) req.__set_size(static_cast<int64_t>(*changes.size));
  if (changes.atime_ns) req.__set_atime_ns(*changes.atime_ns);
  if (changes.mtime_ns) req.__set_mtime_ns(*changes.mtime_ns);
  if (changes.goal) req.__set_goal(*changes.goal);
  rpc::SetAttrResponse resp;
  RETURN_IF_ERROR(impl_->Meta("SetAttr", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.SetAttr(r, req); }));
  return FromRpc(resp.attr);
}

Result<int> Client::UpdateAtimes(const std::vector<std::pair<InodeId, int64_t>>& reads,
                                 bool relatime) {
  rpc::UpdateAtimeRequest req;
  req.ctx = impl_->Context();
  req.relatime = relatime;
  req.reads.reserve(reads.size());
  for (const auto& [inode, t] : reads) {
    rpc::AtimeRead r;
    r.inode = inode;
    r.atime_ns = t;
    req.reads.push_back(r);
  }
  rpc::UpdateAtimeResponse resp;
  RETURN_IF_ERROR(impl_->Meta("UpdateAtime", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.UpdateAtime(r, req); }));
  return resp.updated;
}

Result<std::vector<ChunkView>> Client::Chunks(InodeId inode) {
  std::vector<ChunkView> out;
  int64_t total = 1;  // chunk count, known after the first page
  for (int64_t first = 0; first < total; first += kChunkPage) {
    rpc::GetChunksResponse resp;
    RETURN_IF_ERROR(impl_->GetChunks(inode, first, kChunkPage, true, &resp));
    if (first == 0) {
      uint64_t size = static_cast<uint64_t>(std::max<int64_t>(resp.attr.size, 0));
      total = static_cast<int64_t>((size + kChunkSize - 1) / kChunkSize);
    }
    std::sort(resp.chunks.begin(), resp.chunks.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    for (const auto& c : resp.chunks) out.push_back(ToView(c));
  }
  return out;
}

Result<std::optional<uint64_t>> Client::SeekDataOrHole(InodeId inode, uint64_t offset, bool data) {
  constexpr int kMaxPages = 64;  // 16,384 chunks: 1 TiB
  const int64_t from = static_cast<int64_t>(offset / kChunkSize);
  uint64_t size = 0;
  for (int page = 0; page < kMaxPages; ++page) {
    const int64_t first = from + int64_t{page} * kChunkPage;
    rpc::GetChunksResponse resp;
    RETURN_IF_ERROR(impl_->GetChunks(inode, first, kChunkPage, false, &resp));
    if (page == 0) size = static_cast<uint64_t>(std::max<int64_t>(resp.attr.size, 0));
    if (offset >= size) return std::optional<uint64_t>();
    std::vector<int64_t> present;
    // A chunk of length 0 (chunk 0 placed at a create, never written) holds
    // no data.
    for (const auto& c : resp.chunks) {
      if (c.length > 0) present.push_back(c.index);
    }
    std::sort(present.begin(), present.end());
    const int64_t last = static_cast<int64_t>((size - 1) / kChunkSize);  // last index in the file
    for (int64_t index = first; index < first + kChunkPage && index <= last; ++index) {
      const bool exists = std::binary_search(present.begin(), present.end(), index);
      if (exists == data) {
        return std::optional<uint64_t>(std::max(offset, static_cast<uint64_t>(index) * kChunkSize));
      }
    }
    if (first + kChunkPage > last) {
      // Scanned to the end: no data after `offset`, or the end is the hole.
      return data ? std::optional<uint64_t>() : std::optional<uint64_t>(size);
    }
  }
  // Bounded scan: for SEEK_DATA what follows is called data; for SEEK_HOLE
  // every scanned chunk exists and the end of the file is the hole.
  const uint64_t next = static_cast<uint64_t>(from + int64_t{kMaxPages} * kChunkPage) * kChunkSize;
  return data ? std::optional<uint64_t>(std::max(offset, next)) : std::optional<uint64_t>(size);
}

}  // namespace ddbfs
