#pragma once

#include <functional>
#include <memory>

#include "ddbfs/status.h"

namespace ddbfs {
class Transport;
}  // namespace ddbfs

namespace ddbfs::meta {

namespace store {
class BulkWriter;
class ReadPool;
class MetaCache;
class TagIndex;
class WriteQueue;
}  // namespace store

class ServerRegistry;
class LeaseSettler;
class OpenFiles;
class Repairer;

// Write leases (docs/write_protocol.md).
struct LeaseOptions {
  int lease_ms = 20000;  // a write lease lasts this long unless renewed
  // How long the settler may hold a chunk while it settles it.
  int settle_ms = 30000;
};

// Client sessions (docs/metadata.md, "Client sessions and orphans").
struct SessionOptions {
  // A client session not renewed for this long is dead: its orphans are
  // deleted.
  int timeout_ms = 60000;
  // At most this many open files per session (OpenFiles).
  size_t max_open_files = 65536;
};

// What every operation runs against. Mutations go through `writer` (group
// commit, serialized); reads through `reader`; chunk-server liveness and
// placement through `servers`. The three are thread-safe and outlive every
// operation; an OpContext is shared by all request threads.
struct OpContext {
  store::WriteQueue& writer;
  store::ReadPool& reader;
  ServerRegistry& servers;
  LeaseOptions leases{};
  SessionOptions sessions{};
  // Settles chunks whose writer's lease expired; null in tests without one.
  LeaseSettler* settler = nullptr;
  // Connections to chunk servers: TLS when on, the cluster key proven on
  // each (docs/security.md). Null: plain TCP without a key (unit tests).
  std::shared_ptr<const Transport> peers;
  // The tags of every document in memory (store/tag_index.h); null, or not
  // ready yet: the ops answer from SQL.
  store::TagIndex* tag_index = nullptr;
  // Runs tag changes over more than bulk_threshold documents, each in one
  // transaction beside the group commit; null: none (at most
  // kMaxTagManyInGroupCommit documents per change).
  store::BulkWriter* bulk = nullptr;
  size_t bulk_threshold = 1000;
  // The background repair (docs/repair.md), for its figures in the cluster
  // status and to kick it when a replica is dropped; null when none runs
  // (unit tests).
  Repairer* repairer = nullptr;
  // A replica file the metadata does not know is deleted once it is older
  // than this (docs/repair.md, "Orphans").
  int64_t orphan_grace_ms = 3600 * 1000;
  // Deletion retention (docs/backup.md): a replica of a chunk the metadata
  // no longer has is deleted only this long after its deletion was queued,
  // so that a restored backup still finds it; 0: at once.
  int64_t chunk_retention_ms = 0;
  // A server with less free space than this percentage of its capacity
  // gets its held deletions now, oldest first (0: never before the
  // retention).
  int retention_min_free_pct = 5;
  // The files client sessions have open (ops/open_files.h): a file losing
  // its last name is kept for each of them. Null (unit tests): only the
  // open_inodes an Unlink or Rename names keep a file.
  OpenFiles* open_files = nullptr;
  // The namespace cache (store/meta_cache.h): lookups and getattrs it can
  // answer need no database connection at all; null: none.
  store::MetaCache* cache = nullptr;
  // OK while this metaserver may serve: it is the active one and has
  // confirmed its lock recently (LockKeeper::Serving, docs/ha.md); every
  // request is refused with its status otherwise. Unset: always serving.
  std::function<Status()> check_active = nullptr;
};

}  // namespace ddbfs::meta
