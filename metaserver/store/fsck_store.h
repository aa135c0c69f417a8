#pragma once

// SQL of fsck and of the orphan check (docs/repair.md, "Orphans", "fsck").

#include <cstdint>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

class Tx;

struct FsckChunkRow {
  int64_t id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;  // committed
  int64_t length = 0;
  bool leased = false;  // a write lease is open
  int goal = 0;
  std::vector<ReplicaRecord> replicas;  // its rows, by server id
};

// Up to `limit` chunks with ids above `after`, by id, with their replica
// rows; with `subtree` > 0 only chunks of the inodes under it (itself
// included).
Result<std::vector<FsckChunkRow>> FsckChunks(Tx& tx, int64_t after, int limit, InodeId subtree);

// Up to 8 paths of `inode` ("/a/b"), sorted; none for an inode without a name.
Result<std::vector<std::string>> PathsOf(Tx& tx, InodeId inode);

struct OrphanEntry {
  int64_t chunk_id = 0;
  int64_t version = 0;
  bool aged = false;  // older than the grace: may be deleted whatever it is
};
struct OrphanVerdict {
  int64_t chunk_id = 0;
  bool queued = false;
  bool held = false;  // queued as a held deletion: the chunk is gone (docs/backup.md)
};

// Of `entries` (replicas on `server`), those the metadata does not know -
// an id ever allocated (<= last_chunk_id), no replica row of the server,
// no deletion queued for it - each with whether its deletion was queued
// now: when aged, or with `dead_now` when its chunk is gone or at a higher
// committed version (it can never become a replica). Checked and queued in
// one statement, so a row recorded meanwhile keeps its file. The deletion
// of a replica whose chunk the metadata does not have is held for the
// retention (docs/backup.md): a restored backup may reference it.
Result<std::vector<OrphanVerdict>> QueueOrphans(Tx& tx, int32_t server,
                                                const std::vector<OrphanEntry>& entries,
                                                int64_t last_chunk_id, bool dead_now);

// Of `chunk_ids`, those with a held deletion queued on `server`.
Result<std::vector<int64_t>> HeldDeletionsOf(Tx& tx, int32_t server,
                                             const std::vector<int64_t>& chunk_ids);

}  // namespace ddbfs::meta::store
