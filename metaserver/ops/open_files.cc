#include "metaserver/ops/open_files.h"

#include <algorithm>

namespace ddbfs::meta {

void OpenFiles::LoadIncomplete(const std::vector<std::pair<int64_t, std::string>>& sessions) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, owner] : sessions) {
    Session& s = sessions_[id];
    s.owner = owner;
    s.complete = false;
  }
}

void OpenFiles::AddSession(int64_t session, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  Session& s = sessions_[session];
  s.owner = owner;
  s.complete = true;
}

void OpenFiles::DropSession(int64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(session);
}

Result<OpenFiles::Session*> OpenFiles::FindLocked(int64_t session, const std::string& owner) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return Status(ErrorCode::kLeaseExpired, "client session " + std::to_string(session) +
                                                " has expired or was closed; open a new one");
  }
  if (it->second.owner != owner) {
    return Status(ErrorCode::kPermissionDenied,
                  "client session " + std::to_string(session) + " belongs to another principal");
  }
  return &it->second;
}

Status OpenFiles::CanDeclare(int64_t session, const std::string& owner) const {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Session * s, const_cast<OpenFiles*>(this)->FindLocked(session, owner));
  if (s->inodes.size() >= max_per_session_) {
    return Status(ErrorCode::kTooManyOpen,
                  "client session " + std::to_string(session) + " has " +
                      std::to_string(s->inodes.size()) + " files open; at most " +
                      std::to_string(max_per_session_) +
                      " are allowed (ddbfs-metaserver --max-open-files-per-session)");
  }
  return Status();
}

Result<std::vector<InodeId>> OpenFiles::Declare(int64_t session, const std::string& owner,
                                                const std::vector<InodeId>& inodes) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Session * s, FindLocked(session, owner));
  std::vector<InodeId> added;
  for (InodeId i : inodes) {
    if (!s->inodes.contains(i)) added.push_back(i);
  }
  std::sort(added.begin(), added.end());
  added.erase(std::unique(added.begin(), added.end()), added.end());
  if (s->inodes.size() + added.size() > max_per_session_) {
    return Status(ErrorCode::kTooManyOpen,
                  "client session " + std::to_string(session) + " has " +
                      std::to_string(s->inodes.size()) + " files open; at most " +
                      std::to_string(max_per_session_) +
                      " are allowed (ddbfs-metaserver --max-open-files-per-session)");
  }
  s->inodes.insert(added.begin(), added.end());
  return added;
}

Status OpenFiles::Replace(int64_t session, const std::string& owner,
                          const std::vector<InodeId>& inodes) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Session * s, FindLocked(session, owner));
  std::unordered_set<InodeId> set(inodes.begin(), inodes.end());
  if (set.size() > max_per_session_) {
    return Status(ErrorCode::kTooManyOpen,
                  "client session " + std::to_string(session) + " declares " +
                      std::to_string(set.size()) + " open files; at most " +
                      std::to_string(max_per_session_) +
                      " are allowed (ddbfs-metaserver --max-open-files-per-session)");
  }
  s->inodes = std::move(set);
  s->complete = true;
  return Status();
}

Status OpenFiles::Release(int64_t session, const std::string& owner,
                          const std::vector<InodeId>& inodes) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Session * s, FindLocked(session, owner));
  for (InodeId i : inodes) s->inodes.erase(i);
  return Status();
}

bool OpenFiles::Complete(int64_t session) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  return it != sessions_.end() && it->second.complete;
}

void OpenFiles::MarkHeld(const std::vector<int64_t>& sessions, InodeId inode) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t id : sessions) {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) it->second.held.insert(inode);
  }
}

std::vector<InodeId> OpenFiles::TakeHeld(int64_t session, const std::vector<InodeId>& inodes) {
  std::vector<InodeId> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return out;
  for (InodeId i : inodes) {
    if (it->second.held.erase(i) > 0) out.push_back(i);
  }
  return out;
}

std::vector<int64_t> OpenFiles::Holders(InodeId inode) const {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, s] : sessions_) {
    if (!s.complete || s.inodes.contains(inode)) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ddbfs::meta
