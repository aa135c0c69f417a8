#pragma once

// Content hashes in the metaserver (docs/content_hash.md): which hash a
// commit may record for a chunk, a document's hash put together from its
// chunks', and the reads GetContentHash and FindDuplicates. The background
// rehash is ContentRehasher. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

namespace store {
class Tx;
}

class ServerRegistry;

// The SHA-256 a commit of `c` may record: the one that every server of
// c.written proved (`proofs`) for c.version and c.length, in the registration session
// it has now (a server that restarted since forgot its seals). nullopt
// otherwise: the chunk is stale.
std::optional<std::string> AgreedHash(const ServerRegistry& servers, const ChunkCommitArgs& c,
                                      const std::vector<ReplicaHash>& proofs);

// Commits put a file's hash together themselves up to this many chunks;
// a larger file's is left stale for the background rehash, which puts it
// together at most once per pass (a sequential write commits once per
// chunk and each time the whole list would be read).
inline constexpr int64_t kInlineHashChunks = 64;

// Puts together the hash of regular file `inode` of `size` bytes from its
// chunks' hashes: nullopt when any of them is stale, when the file has more
// than `max_chunks` chunks, or when it is larger than kMaxHashedSize. Chunk
// hashes that no longer cover their chunk's range (the size changed) are
// marked stale. Inside the caller's writer transaction.
Result<std::optional<std::string>> DocumentHashOf(store::Tx& tx, InodeId inode, uint64_t size,
                                                  int64_t max_chunks = kInlineHashChunks);
// DocumentHashOf `file` (a regular file's attributes after the change),
// stored as its hash.
Status RefreshDocumentHash(store::Tx& tx, const Attr& file, int64_t max_chunks = kInlineHashChunks);

struct ContentHashView {
  std::optional<std::string> sha256;  // raw; nullopt: stale
  uint64_t size = 0;
  int64_t stale_chunks = 0;
};
// A regular file's hash. Needs read permission.
Result<ContentHashView> GetContentHash(OpContext& ctx, const Caller& caller, InodeId inode);

// Where FindDuplicates goes on (the service layer hands it to clients
// sealed: it names documents the caller may not see).
struct DuplicatesCursor {
  bool counting_stale = false;  // the groups are done; counting stale documents
  // The last document looked at, by (size, sha256, id); size -1: none yet.
  int64_t size = -1;
  std::string sha256;
  InodeId inode = 0;
  // Of the group of that document: one member the caller may see, not
  // shown yet (0: none), and whether the group was shown (two members or
  // more the caller may see).
  InodeId pending = 0;
  bool shown = false;
  InodeId stale_after = 0;  // counting_stale: the last document counted
};
struct DuplicateHit {
  std::string path;
  Attr attr;
  std::string sha256;  // raw
};
struct DuplicatesPage {
  std::vector<DuplicateHit> entries;
  int64_t stale = 0;
  std::optional<DuplicatesCursor> next;  // nullopt: done
};
inline constexpr int kMaxDuplicatesExamined = 10000;
inline constexpr size_t kMaxDuplicatesBytes = 4 << 20;
// A page of the documents below directory `under` whose content (size,
// hash) another one shares, counting only documents the caller could reach
// by path and may read (see the IDL's FindDuplicatesRequest). Looks at no
// more than `limit` documents (0 or more than kMaxDuplicatesExamined: that).
Result<DuplicatesPage> FindDuplicates(OpContext& ctx, const Caller& caller, InodeId under,
                                      bool empty, const DuplicatesCursor& from, int limit);

}  // namespace ddbfs::meta
