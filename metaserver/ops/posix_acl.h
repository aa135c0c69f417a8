#pragma once

// POSIX access control lists (docs/metadata.md, "POSIX ACLs"): Linux's
// semantics (fs/posix_acl.c) over the xattr form that setfacl, cp -a and the
// kernel exchange. Pure functions; the ops call them inside their
// transactions.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

namespace ddbfs::meta {

inline constexpr std::string_view kAclAccessXattr = "system.posix_acl_access";
inline constexpr std::string_view kAclDefaultXattr = "system.posix_acl_default";

// Entry tags, as in <linux/posix_acl.h>.
inline constexpr uint16_t kAclUserObj = 0x01;
inline constexpr uint16_t kAclUser = 0x02;
inline constexpr uint16_t kAclGroupObj = 0x04;
inline constexpr uint16_t kAclGroup = 0x08;
inline constexpr uint16_t kAclMask = 0x10;
inline constexpr uint16_t kAclOther = 0x20;
inline constexpr uint32_t kAclUndefinedId = 0xffffffffu;

struct AclEntry {
  uint16_t tag = 0;
  uint16_t perm = 0;              // rwx: 4, 2, 1
  uint32_t id = kAclUndefinedId;  // uid (kAclUser) or gid (kAclGroup)
  bool operator==(const AclEntry&) const = default;
};
using Acl = std::vector<AclEntry>;

// Reads the xattr form (little-endian u32 version 2, then u16 tag, u16 perm,
// u32 id per entry) and checks it as Linux's posix_acl_valid does: one
// owner, group and other entry in that order with named users after the
// owner and named groups after the group, a mask after the groups (required
// when there are named entries), perms within rwx. An empty list (the
// version alone) is valid and means "no ACL". kInvalidArgument (EINVAL)
// saying what is wrong.
Result<Acl> ParseAcl(std::string_view xattr);
// The xattr form; ids of the unnamed entries are written as kAclUndefinedId.
std::string EncodeAcl(const Acl& acl);

// The permission bits (0777) an access ACL stands for: owner from its owner
// entry, group from its mask (or group entry without a mask), other from its
// other entry. `equivalent` is set when the ACL says no more than those bits
// (no named entry, no mask): then no ACL needs to be kept.
uint32_t AclModeBits(const Acl& acl, bool* equivalent);

// chmod of a node with an access ACL: its owner, mask (or group) and other
// entries take the new bits (posix_acl_chmod).
void ChmodAcl(Acl* acl, uint32_t mode);

// May caller `c` (not root) `want` (kMayRead/kMayWrite/kMayExec of
// permissions.h) on `node`, whose access ACL is `acl`? (posix_acl_permission:
// owner entry, then named users through the mask, then the groups the caller
// is in, one of which must grant all of `want` through the mask, then other.)
bool AclPermits(const Acl& acl, const Attr& node, const Caller& c, int want);

// The mode and ACLs of a node of `type` that `c` makes in directory
// `parent` with `mode` (what OwnershipOfNew decided): when `parent` has a
// default ACL the node inherits it (posix_acl_create: its entries masked by
// the mode's bits and the mode by them; the umask does not apply; a
// directory also gets it as its own default ACL); otherwise the caller's
// umask, if it sent one, clears bits of the mode. Symbolic links get
// neither. `acl_access`/`acl_default` are set to the xattr forms to keep
// (empty: none). kInvalidArgument if the parent's stored ACL is unreadable.
Status InheritAcls(const Attr& parent, const Caller& c, FileType type, uint32_t* mode,
                   std::string* acl_access, std::string* acl_default);

}  // namespace ddbfs::meta
