#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

namespace ddbfs::meta {

// POSIX permission checks of the ops layer, for the identity in a Caller
// (docs/metadata.md, "Permissions"). Pure functions of attributes the op has
// already read in its transaction; Linux semantics. Root is uid 0.

inline constexpr uint32_t kSetUid = 04000;
inline constexpr uint32_t kSetGid = 02000;
inline constexpr uint32_t kSticky = 01000;
inline constexpr uint32_t kGroupExec = 00010;

// `want` of CheckAccess: a sum of these.
inline constexpr int kMayRead = 4;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayExec = 1;  // search, on a directory

bool IsRoot(const Caller& c);
// gid is the caller's primary group or one of its supplementary groups.
bool InGroup(const Caller& c, uint32_t gid);
// The caller owns `node` or is root.
bool IsOwnerOrRoot(const Attr& node, const Caller& c);

// The classic check: the owner bits if the caller owns `node`, else the group
// bits if it is in node's group, else the others' bits (the first class that
// matches decides). Root passes read and write always, exec on a directory
// always and on anything else when some x bit is set. kPermissionDenied
// (EACCES), naming `what` (the operation) and why.
Status CheckAccess(const Attr& node, const Caller& c, int want, std::string_view what);

// Only the owner or root may do `what` (chmod, utimes, goal):
// kNotPermitted (EPERM).
Status CheckOwner(const Attr& node, const Caller& c, std::string_view what);

// The sticky-directory rule for removing or renaming-over `entry` in `dir`:
// in a directory with S_ISVTX only the entry's owner, the directory's owner
// or root may; kNotPermitted (EPERM) otherwise.
Status CheckSticky(const Attr& dir, const Attr& entry, const Caller& c, std::string_view what);

// Owner, group and mode of a node `c` creates in directory `parent` with the
// requested `mode` (& 07777): uid is the caller's; gid the caller's, or the
// parent's when the parent has S_ISGID, and then a new directory keeps
// S_ISGID; a non-directory keeps a requested S_ISGID only if its group is
// one of the caller's (or root).
struct NewOwnership {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;
};
NewOwnership OwnershipOfNew(const Attr& parent, const Caller& c, FileType type, uint32_t mode);

// SetAttr's uid/gid/mode changes (chown, chgrp, chmod): who may, and the mode
// that results. new_mode is what the request sets (nullopt: unchanged).
// chown (uid) needs root; chgrp needs root, or the owner giving the node to
// a group he is in (a "change" to the current value is allowed to the
// owner); chmod needs the owner or root, and a non-root chmod that sets
// S_ISGID while the (new) group is not the caller's clears S_ISGID. A
// chown/chgrp of a non-directory clears S_ISUID, and S_ISGID when the
// group-exec bit is set, whoever does it, unless the same request sets the
// mode explicitly. Returns the mode to store (nullopt: unchanged), or
// kNotPermitted.
Result<std::optional<uint32_t>> CheckOwnershipChange(const Attr& node, const Caller& c,
                                                     std::optional<uint32_t> new_uid,
                                                     std::optional<uint32_t> new_gid,
                                                     std::optional<uint32_t> new_mode);

// The mode of a regular file after a non-root caller changed its data
// (POSIX "on write"): S_ISUID cleared, and S_ISGID when group-exec is set.
// Root keeps both. Equal to node.mode when nothing is cleared.
uint32_t ModeAfterWrite(const Attr& node, const Caller& c);

}  // namespace ddbfs::meta
