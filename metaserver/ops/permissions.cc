#include "metaserver/ops/permissions.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "metaserver/ops/posix_acl.h"

namespace ddbfs::meta {

namespace {

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0%o", mode);
  return buf;
}

// "directory 12 (mode 0755, owner 0, group 0)"
std::string Describe(const Attr& node) {
  const char* kind = node.type == FileType::kDirectory ? "directory"
                     : node.type == FileType::kSymlink ? "symbolic link"
                     : IsSpecial(node.type)            ? "special file"
                                                       : "file";
  return std::string(kind) + " " + std::to_string(node.inode) + " (mode " + Octal(node.mode) +
         ", owner " + std::to_string(node.uid) + ", group " + std::to_string(node.gid) + ")";
}

std::string Wanted(int want) {
  std::string out;
  auto add = [&](int bit, const char* name) {
    if (!(want & bit)) return;
    if (!out.empty()) out += " and ";
    out += name;
  };
  add(kMayRead, "read");
  add(kMayWrite, "write");
  add(kMayExec, "search/execute");
  return out;
}

std::string Who(const Caller& c) { return "uid " + std::to_string(c.uid); }

}  // namespace

bool IsRoot(const Caller& c) { return c.uid == 0; }

bool InGroup(const Caller& c, uint32_t gid) {
  return c.gid == gid || std::find(c.groups.begin(), c.groups.end(), gid) != c.groups.end();
}

bool IsOwnerOrRoot(const Attr& node, const Caller& c) { return IsRoot(c) || node.uid == c.uid; }

Status CheckAccess(const Attr& node, const Caller& c, int want, std::string_view what) {
  want &= 07;
  if (IsRoot(c)) {
    // CAP_DAC_OVERRIDE: everything but executing a file no one may execute.
    const bool exec_ok =
        !(want & kMayExec) || node.type == FileType::kDirectory || (node.mode & 0111) != 0;
    if (exec_ok) return Status();
  } else if (!node.acl_access.empty()) {
    // The access ACL decides (the mode's bits are a summary of it).
    Result<Acl> acl = ParseAcl(node.acl_access);
    if (!acl.ok()) {
      return Status(ErrorCode::kIoError, std::string(what) + ": the stored POSIX ACL of " +
                                             Describe(node) +
                                             " is unreadable: " + acl.status().message());
    }
    if (AclPermits(*acl, node, c, want)) return Status();
  } else {
    uint32_t bits;
    if (node.uid == c.uid) {
      bits = (node.mode >> 6) & 07;
    } else if (InGroup(c, node.gid)) {
      bits = (node.mode >> 3) & 07;
    } else {
      bits = node.mode & 07;
    }
    if ((bits & static_cast<uint32_t>(want)) == static_cast<uint32_t>(want)) return Status();
  }
  return Status(ErrorCode::kPermissionDenied, std::string(what) + ": " + Who(c) + " has no " +
                                                  Wanted(want) + " permission on " +
                                                  Describe(node));
}

Status CheckOwner(const Attr& node, const Caller& c, std::string_view what) {
  if (IsOwnerOrRoot(node, c)) return Status();
  return Status(ErrorCode::kNotPermitted, std::string(what) + ": only the owner or root may; " +
                                              Who(c) + " does not own " + Describe(node));
}

Status CheckSticky(const Attr& dir, const Attr& entry, const Caller& c, std::string_view what) {
  if (!(dir.mode & kSticky)) return Status();
  if (IsRoot(c) || entry.uid == c.uid || dir.uid == c.uid) return Status();
  return Status(ErrorCode::kNotPermitted,
                std::string(what) + ": " + Describe(dir) +
                    " is sticky: only the owner of the entry (uid " + std::to_string(entry.uid) +
                    "), of the directory, or root may remove or replace it; caller is " + Who(c));
}

NewOwnership OwnershipOfNew(const Attr& parent, const Caller& c, FileType type, uint32_t mode) {
  NewOwnership out;
  out.uid = c.uid;
  out.gid = c.gid;
  out.mode = mode & 07777;
  if (parent.mode & kSetGid) {
    out.gid = parent.gid;
    if (type == FileType::kDirectory) out.mode |= kSetGid;
  }
  if (type != FileType::kDirectory && (out.mode & kSetGid) && !IsRoot(c) && !InGroup(c, out.gid)) {
    out.mode &= ~kSetGid;
  }
  return out;
}

Result<std::optional<uint32_t>> CheckOwnershipChange(const Attr& node, const Caller& c,
                                                     std::optional<uint32_t> new_uid,
                                                     std::optional<uint32_t> new_gid,
                                                     std::optional<uint32_t> new_mode) {
  const bool root = IsRoot(c);
  const bool owner = node.uid == c.uid;
  if (new_uid && !root && !(owner && *new_uid == node.uid)) {
    return Status(ErrorCode::kNotPermitted, "chown to uid " + std::to_string(*new_uid) +
                                                ": only root may change the owner of " +
                                                Describe(node) + "; caller is " + Who(c));
  }
  if (new_gid && !root && !(owner && (*new_gid == node.gid || InGroup(c, *new_gid)))) {
    return Status(ErrorCode::kNotPermitted,
                  "chgrp to gid " + std::to_string(*new_gid) + ": " + Who(c) +
                      (owner ? " is not in that group" : " does not own " + Describe(node)) +
                      " (only root may give a node to any group)");
  }
  std::optional<uint32_t> mode;
  if (new_mode) {
    RETURN_IF_ERROR(CheckOwner(node, c, "chmod"));
    mode = *new_mode & 07777;
    // Linux's setattr_prepare: S_ISGID only for members of the file's group.
    if ((*mode & kSetGid) && !root && !InGroup(c, new_gid.value_or(node.gid))) *mode &= ~kSetGid;
  } else if ((new_uid || new_gid) && node.type != FileType::kDirectory) {
    // chown(2) of a non-directory: ATTR_KILL_SUID | ATTR_KILL_SGID.
    uint32_t m = node.mode & ~kSetUid;
    if ((m & kGroupExec) != 0) m &= ~kSetGid;
    if (m != node.mode) mode = m;
  }
  return mode;
}

uint32_t ModeAfterWrite(const Attr& node, const Caller& c) {
  if (IsRoot(c) || node.type != FileType::kRegular) return node.mode;
  uint32_t m = node.mode & ~kSetUid;
  if ((m & kGroupExec) != 0) m &= ~kSetGid;
  return m;
}

}  // namespace ddbfs::meta
