#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "ddbfs/auth.h"
#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/ops/session_ops.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta {

namespace store {
class Tx;
}

// Helpers shared by the operation files (private to metaserver/ops).

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A directory's attributes after an entry was added or removed at `now_ns`
// (what TouchDir and CreateEntry write): mtime = ctime = now, nlink moved
// by `nlink_delta`. Stored in `*out` when it is not null.
inline void NoteDirAfter(Attr dir, int64_t now_ns, int nlink_delta, Attr* out) {
  if (out == nullptr) return;
  dir.mtime_ns = dir.ctime_ns = now_ns;
  dir.nlink = static_cast<uint32_t>(static_cast<int64_t>(dir.nlink) + nlink_delta);
  *out = dir;
}

// Wall-clock milliseconds since the Unix epoch (lease expiry times).
inline int64_t NowMs() { return UnixNowMs(); }

// When a write lease granted or renewed now expires.
inline int64_t LeaseExpiry(const OpContext& ctx) { return NowMs() + ctx.leases.lease_ms; }

// `e` (from LookupEntry(parent, ...)) names an existing directory.
Status CheckParentDir(const store::EntryLookup& e, InodeId parent);
// ... and the entry `name` does not exist yet (kExists).
Status CheckNewEntry(const store::EntryLookup& e, InodeId parent, const std::string& name);
// ... and the entry `name` exists (kNotFound).
Status CheckEntryExists(const store::EntryLookup& e, InodeId parent, const std::string& name);

// Permission checks on an entry of a directory (Linux order; see
// permissions.h), for `caller` doing `what` ("unlink 'a'"):
// Lookup: the parent is a directory we may search (x), and `name` exists.
Status CheckLookup(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what);
// Creating `name`: the parent is a directory we may search, `name` is free
// (kExists), and we may write the parent (w).
Status CheckCreate(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what);
// Removing `name`: CheckLookup, write on the parent, and the sticky rule.
Status CheckRemove(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what);

// One name of `inode` went away: nlink - 1, or delete the inode with its
// chunks (queued for GC) when it was the last.
Status DropLink(store::Tx& tx, const Attr& inode, int64_t now_ns);

// The fields of `holder` are sane (before the transaction).
Status ValidateHolder(const OrphanHolder& holder);
// `holder`'s session exists, has not expired and is holder.owner's
// (kLeaseExpired / kPermissionDenied).
Status CheckHolder(store::Tx& tx, const OrphanHolder& holder);
// DropLink, except that a regular file losing its last name is kept as an
// orphan (nlink 0, one row in ddbfs.orphans naming `parent` per holder) when
// a client session has it open: every session of ctx.open_files->Holders,
// and the holder's session (holder may be null) when it is one of
// holder->open_inodes. True when the holder's session is among its holders.
Result<bool> DropLinkOrKeep(OpContext& ctx, store::Tx& tx, const Attr& inode, InodeId parent,
                            int64_t now_ns, const OrphanHolder* holder);

}  // namespace ddbfs::meta
