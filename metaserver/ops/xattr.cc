// Extended attributes (docs/metadata.md, "Extended attributes"): who may
// read and write which namespace follows Linux (fs/xattr.c and the
// capability checks of security/commoncap.c).

#include <optional>
#include <string>
#include <vector>

#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"
#include "metaserver/store/xattr_store.h"

namespace ddbfs::meta {

namespace {

enum class Space { kUser, kTrusted, kSecurity, kAclAccess, kAclDefault };

Result<Space> SpaceOf(std::string_view name) {
  if (name.empty()) return InvalidArgument("empty extended attribute name");
  if (name.size() > kMaxXattrName) {
    return Status(ErrorCode::kNameTooLong, "extended attribute name is longer than " +
                                               std::to_string(kMaxXattrName) + " bytes");
  }
  if (name.find('\0') != std::string_view::npos) {
    return InvalidArgument("extended attribute name contains a NUL byte");
  }
  if (name == kAclAccessXattr) return Space::kAclAccess;
  if (name == kAclDefaultXattr) return Space::kAclDefault;
  struct Prefix {
    std::string_view text;
    Space space;
  };
  for (const Prefix& p : {Prefix{"user.", Space::kUser}, Prefix{"trusted.", Space::kTrusted},
                          Prefix{"security.", Space::kSecurity}}) {
    if (name.substr(0, p.text.size()) == p.text) {
      if (name.size() == p.text.size()) {
        return InvalidArgument("extended attribute name '" + std::string(name) +
                               "' has nothing after its namespace");
      }
      return p.space;
    }
  }
  return Status(ErrorCode::kNotSupported,
                "extended attribute '" + std::string(name) +
                    "': only the user., trusted. and security. namespaces and POSIX ACLs"
                    " (system.posix_acl_access, system.posix_acl_default) are supported");
}

bool UserXattrsAllowed(const Attr& node) {
  return node.type == FileType::kRegular || node.type == FileType::kDirectory;
}

// May `caller` read attribute `name` (in `space`) of `node`? kNoData where
// Linux pretends there is none.
Status CheckRead(const Attr& node, const Caller& caller, Space space, std::string_view name) {
  const std::string what = "read extended attribute '" + std::string(name) + "'";
  switch (space) {
    case Space::kTrusted:
      if (!IsRoot(caller)) return Status(ErrorCode::kNoData, "no attribute " + std::string(name));
      return Status();
    case Space::kSecurity:
    case Space::kAclAccess:
    case Space::kAclDefault:
      return Status();  // anyone who can find the node reads its ACLs
    case Space::kUser:
      if (!UserXattrsAllowed(node)) {
        return Status(ErrorCode::kNoData, "no attribute " + std::string(name));
      }
      return CheckAccess(node, caller, kMayRead, what);
  }
  return Status();
}

Status CheckWrite(const Attr& node, const Caller& caller, Space space, std::string_view name) {
  const std::string what = "change extended attribute '" + std::string(name) + "'";
  switch (space) {
    case Space::kAclAccess:
    case Space::kAclDefault:
      if (node.type == FileType::kSymlink) {
        return Status(ErrorCode::kNotSupported, what + ": symbolic links have no ACLs");
      }
      return CheckOwner(node, caller, what);
    case Space::kTrusted:
    case Space::kSecurity:
      if (!IsRoot(caller)) {
        return Status(ErrorCode::kNotPermitted,
                      what + ": only root may change the " +
                          (space == Space::kTrusted ? "trusted" : "security") + " namespace");
      }
      return Status();
    case Space::kUser:
      if (!UserXattrsAllowed(node)) {
        return Status(ErrorCode::kNotPermitted,
                      what + ": only files and directories have user attributes");
      }
      if (node.type == FileType::kDirectory && (node.mode & kSticky) &&
          !IsOwnerOrRoot(node, caller)) {
        return Status(ErrorCode::kNotPermitted,
                      what + ": in a sticky directory only its owner or root may");
      }
      return CheckAccess(node, caller, kMayWrite, what);
  }
  return Status();
}

bool IsAcl(Space space) { return space == Space::kAclAccess || space == Space::kAclDefault; }

const std::string& StoredAcl(const Attr& node, Space space) {
  return space == Space::kAclAccess ? node.acl_access : node.acl_default;
}

// setxattr/removexattr of an ACL (value nullopt: remove), as Linux's
// set_posix_acl and posix_acl_update_mode: an access ACL that says no more
// than the mode is not kept, only its bits; the mode's bits follow the ACL;
// S_ISGID is dropped when a caller outside the node's group (not root) sets
// an access ACL; a default ACL only on a directory.
Status SetAclInTx(store::Tx& tx, const Attr& node, const Caller& caller, Space space,
                  const std::optional<std::string>& value) {
  Acl acl;
  if (value) {
    ASSIGN_OR_RETURN(acl, ParseAcl(*value));
  }
  const int64_t now = NowNs();
  if (space == Space::kAclDefault) {
    if (node.type != FileType::kDirectory) {
      if (acl.empty()) return Status();
      return Status(ErrorCode::kPermissionDenied, "set a default ACL on inode " +
                                                      std::to_string(node.inode) +
                                                      ": only directories have one");
    }
    return store::SetDefaultAcl(tx, node.inode, acl.empty() ? "" : EncodeAcl(acl), now).status();
  }
  if (acl.empty()) return store::SetAccessAcl(tx, node.inode, "", node.mode, now).status();
  bool equivalent = false;
  uint32_t mode = (node.mode & ~0777u) | AclModeBits(acl, &equivalent);
  if (!IsRoot(caller) && !InGroup(caller, node.gid)) mode &= ~kSetGid;
  return store::SetAccessAcl(tx, node.inode, equivalent ? "" : EncodeAcl(acl), mode, now).status();
}

}  // namespace

Result<std::string> GetXattr(OpContext& ctx, const Caller& caller, InodeId inode,
                             std::string_view name) {
  RETURN_IF_ERROR(ValidateInode(inode));
  ASSIGN_OR_RETURN(Space space, SpaceOf(name));
  const std::string n(name);
  std::string out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    RETURN_IF_ERROR(CheckRead(*node, caller, space, n));
    if (IsAcl(space)) {
      if (StoredAcl(*node, space).empty()) return Status(ErrorCode::kNoData, "no attribute " + n);
      out = StoredAcl(*node, space);
      return Status();
    }
    ASSIGN_OR_RETURN(std::optional<std::string> value, store::GetXattr(tx, inode, n));
    if (!value) return Status(ErrorCode::kNoData, "no attribute " + n);
    out = std::move(*value);
    return Status();
  }));
  return out;
}

Result<std::vector<std::string>> ListXattr(OpContext& ctx, const Caller& caller, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  std::vector<std::string> out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListXattrs(tx, inode));
    out.clear();
    if (!node->acl_access.empty()) out.emplace_back(kAclAccessXattr);
    if (!node->acl_default.empty()) out.emplace_back(kAclDefaultXattr);
    for (std::string& n : names) {
      // trusted.* names are shown to root only, as Linux does.
      if (n.rfind("trusted.", 0) == 0 && !IsRoot(caller)) continue;
      out.push_back(std::move(n));
    }
    return Status();
  }));
  return out;
}

Status SetXattr(OpContext& ctx, const Caller& caller, InodeId inode, std::string_view name,
                std::string_view value, int flags) {
  RETURN_IF_ERROR(ValidateInode(inode));
  ASSIGN_OR_RETURN(Space space, SpaceOf(name));
  if (value.size() > kMaxXattrValue) {
    return InvalidArgument("extended attribute value is larger than " +
                           std::to_string(kMaxXattrValue) + " bytes");
  }
  if (flags != 0 && flags != kXattrCreate && flags != kXattrReplace) {
    return InvalidArgument("setxattr flags " + std::to_string(flags) +
                           ": give 0, 1 (create) or 2 (replace)");
  }
  const std::string n(name);
  const std::string v(value);
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    RETURN_IF_ERROR(CheckWrite(*node, caller, space, n));
    // Linux's ACL setxattr ignores XATTR_CREATE and XATTR_REPLACE.
    if (IsAcl(space)) return SetAclInTx(tx, *node, caller, space, v);
    ASSIGN_OR_RETURN(store::XattrUsage usage, store::XattrUsageOf(tx, inode, n));
    if (flags == kXattrCreate && usage.exists) {
      return Status(ErrorCode::kExists, "extended attribute " + n + " exists already");
    }
    if (flags == kXattrReplace && !usage.exists) {
      return Status(ErrorCode::kNoData, "no attribute " + n + " to replace");
    }
    if (usage.count + 1 > kMaxXattrsPerNode ||
        usage.bytes + static_cast<int64_t>(n.size() + v.size()) > kMaxXattrBytesPerNode) {
      return Status(ErrorCode::kNoSpace,
                    "inode " + std::to_string(inode) + " would hold more than " +
                        std::to_string(kMaxXattrsPerNode) + " extended attributes or " +
                        std::to_string(kMaxXattrBytesPerNode) + " bytes of them");
    }
    RETURN_IF_ERROR(store::PutXattr(tx, inode, n, v));
    return store::TouchCtime(tx, inode, NowNs());
  });
}

Status RemoveXattr(OpContext& ctx, const Caller& caller, InodeId inode, std::string_view name) {
  RETURN_IF_ERROR(ValidateInode(inode));
  ASSIGN_OR_RETURN(Space space, SpaceOf(name));
  const std::string n(name);
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    RETURN_IF_ERROR(CheckWrite(*node, caller, space, n));
    // Removing an ACL that is not there succeeds, as on ext4.
    if (IsAcl(space)) return SetAclInTx(tx, *node, caller, space, std::nullopt);
    ASSIGN_OR_RETURN(bool removed, store::DeleteXattr(tx, inode, n));
    if (!removed) return Status(ErrorCode::kNoData, "no attribute " + n);
    return store::TouchCtime(tx, inode, NowNs());
  });
}

}  // namespace ddbfs::meta
