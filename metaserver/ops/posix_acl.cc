#include "metaserver/ops/posix_acl.h"

#include "metaserver/ops/permissions.h"

namespace ddbfs::meta {

namespace {

constexpr uint32_t kAclVersion = 2;
constexpr size_t kHeaderSize = 4;
constexpr size_t kEntrySize = 8;

uint32_t Le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3])) << 24;
}

uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}

void Put32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

bool Named(uint16_t tag) { return tag == kAclUser || tag == kAclGroup; }

Status Bad(const std::string& why) { return InvalidArgument("POSIX ACL: " + why); }

}  // namespace

Result<Acl> ParseAcl(std::string_view x) {
  if (x.size() < kHeaderSize || (x.size() - kHeaderSize) % kEntrySize != 0) {
    return Bad("a value of " + std::to_string(x.size()) +
               " bytes is not a 4-byte header followed by 8-byte entries");
  }
  if (Le32(x, 0) != kAclVersion) {
    return Bad("version " + std::to_string(Le32(x, 0)) + " (only 2 is known)");
  }
  Acl acl;
  acl.reserve((x.size() - kHeaderSize) / kEntrySize);
  for (size_t at = kHeaderSize; at < x.size(); at += kEntrySize) {
    AclEntry e;
    e.tag = Le16(x, at);
    e.perm = Le16(x, at + 2);
    e.id = Named(e.tag) ? Le32(x, at + 4) : kAclUndefinedId;
    acl.push_back(e);
  }
  if (acl.empty()) return acl;
  // posix_acl_valid's order: owner, users, group, groups, mask, other.
  enum State { kWantOwner, kUsers, kGroups, kWantOther, kDone } state = kWantOwner;
  bool needs_mask = false;
  for (size_t i = 0; i < acl.size(); ++i) {
    const AclEntry& e = acl[i];
    const std::string where = "entry " + std::to_string(i + 1);
    if (e.perm & ~7u) return Bad(where + " has permission bits other than rwx");
    switch (e.tag) {
      case kAclUserObj:
        if (state != kWantOwner) return Bad(where + ": a second or misplaced owner entry");
        state = kUsers;
        break;
      case kAclUser:
        if (state != kUsers) return Bad(where + ": a named user after the group entries");
        if (e.id == kAclUndefinedId) return Bad(where + ": a named user without a uid");
        needs_mask = true;
        break;
      case kAclGroupObj:
        if (state != kUsers) return Bad(where + ": a second or misplaced owning-group entry");
        state = kGroups;
        break;
      case kAclGroup:
        if (state != kGroups) return Bad(where + ": a named group outside the group entries");
        if (e.id == kAclUndefinedId) return Bad(where + ": a named group without a gid");
        needs_mask = true;
        break;
      case kAclMask:
        if (state != kGroups) return Bad(where + ": a second or misplaced mask");
        state = kWantOther;
        break;
      case kAclOther:
        if (state == kWantOther || (state == kGroups && !needs_mask)) {
          state = kDone;
          break;
        }
        return Bad(where + (state == kGroups ? ": named entries need a mask entry"
                                             : ": a misplaced other entry"));
      default:
        return Bad(where + " has unknown tag " + std::to_string(e.tag));
    }
    if (state == kDone && i + 1 != acl.size()) return Bad("entries after the other entry");
  }
  if (state != kDone) return Bad("the owner, owning group and other entries are required");
  return acl;
}

std::string EncodeAcl(const Acl& acl) {
  std::string out;
  out.reserve(kHeaderSize + acl.size() * kEntrySize);
  Put32(&out, kAclVersion);
  for (const AclEntry& e : acl) {
    Put16(&out, e.tag);
    Put16(&out, e.perm);
    Put32(&out, Named(e.tag) ? e.id : kAclUndefinedId);
  }
  return out;
}

uint32_t AclModeBits(const Acl& acl, bool* equivalent) {
  uint32_t mode = 0;
  bool equiv = true;
  for (const AclEntry& e : acl) {
    switch (e.tag) {
      case kAclUserObj:
        mode |= (e.perm & 7u) << 6;
        break;
      case kAclGroupObj:
        mode |= (e.perm & 7u) << 3;
        break;
      case kAclOther:
        mode |= e.perm & 7u;
        break;
      case kAclMask:
        mode = (mode & ~0070u) | (e.perm & 7u) << 3;
        equiv = false;
        break;
      default:
        equiv = false;
        break;
    }
  }
  if (equivalent != nullptr) *equivalent = equiv;
  return mode;
}

void ChmodAcl(Acl* acl, uint32_t mode) {
  AclEntry* group = nullptr;
  AclEntry* mask = nullptr;
  for (AclEntry& e : *acl) {
    if (e.tag == kAclUserObj) e.perm = static_cast<uint16_t>((mode >> 6) & 7u);
    if (e.tag == kAclGroupObj) group = &e;
    if (e.tag == kAclMask) mask = &e;
    if (e.tag == kAclOther) e.perm = static_cast<uint16_t>(mode & 7u);
  }
  AclEntry* g = mask != nullptr ? mask : group;
  if (g != nullptr) g->perm = static_cast<uint16_t>((mode >> 3) & 7u);
}

bool AclPermits(const Acl& acl, const Attr& node, const Caller& c, int want) {
  const auto w = static_cast<uint16_t>(want & 7);
  uint16_t mask = 7;
  for (const AclEntry& e : acl) {
    if (e.tag == kAclMask) mask = e.perm;
  }
  bool in_some_group = false;
  for (const AclEntry& e : acl) {
    switch (e.tag) {
      case kAclUserObj:
        if (node.uid == c.uid) return (e.perm & w) == w;
        break;
      case kAclUser:
        if (e.id == c.uid) return (e.perm & mask & w) == w;
        break;
      case kAclGroupObj:
      case kAclGroup:
        if (InGroup(c, e.tag == kAclGroupObj ? node.gid : e.id)) {
          in_some_group = true;
          if ((e.perm & mask & w) == w) return true;
        }
        break;
      case kAclOther:
        if (in_some_group) return false;
        return (e.perm & w) == w;
      default:
        break;
    }
  }
  return false;
}

Status InheritAcls(const Attr& parent, const Caller& c, FileType type, uint32_t* mode,
                   std::string* acl_access, std::string* acl_default) {
  acl_access->clear();
  acl_default->clear();
  if (type == FileType::kSymlink) return Status();
  if (parent.acl_default.empty()) {
    if (c.umask) *mode &= ~(*c.umask & 0777u);
    return Status();
  }
  ASSIGN_OR_RETURN(Acl acl, ParseAcl(parent.acl_default));
  if (type == FileType::kDirectory) *acl_default = parent.acl_default;
  // posix_acl_create_masq: the mode's bits limit the owner, other and mask
  // (or group) entries, and those limit the mode.
  uint32_t m = *mode;
  AclEntry* group = nullptr;
  AclEntry* mask = nullptr;
  bool equiv = true;
  for (AclEntry& e : acl) {
    switch (e.tag) {
      case kAclUserObj:
        e.perm &= static_cast<uint16_t>((m >> 6) & 7u);
        m = (m & ~0700u) | (static_cast<uint32_t>(e.perm) << 6);
        break;
      case kAclGroupObj:
        group = &e;
        break;
      case kAclMask:
        mask = &e;
        equiv = false;
        break;
      case kAclOther:
        e.perm &= static_cast<uint16_t>(m & 7u);
        m = (m & ~0007u) | e.perm;
        break;
      default:
        equiv = false;
        break;
    }
  }
  AclEntry* g = mask != nullptr ? mask : group;
  if (g != nullptr) {
    g->perm &= static_cast<uint16_t>((m >> 3) & 7u);
    m = (m & ~0070u) | (static_cast<uint32_t>(g->perm) << 3);
  }
  *mode = m;
  if (!equiv) *acl_access = EncodeAcl(acl);
  return Status();
}

}  // namespace ddbfs::meta
