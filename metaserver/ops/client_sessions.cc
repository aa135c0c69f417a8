// Client sessions and their orphans (docs/metadata.md, "Client sessions and
// orphans").

#include "ddbfs/log.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/session_ops.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/session_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

Status ValidateSessionId(int64_t session) {
  if (session <= 0) return InvalidArgument("bad client session id " + std::to_string(session));
  return Status();
}

Status NotOwner(int64_t session) {
  return Status(ErrorCode::kPermissionDenied,
                "client session " + std::to_string(session) + " belongs to another principal");
}

// Deletes every orphan of `session` and the session row; returns the count.
Result<int> DropSession(store::Tx& tx, int64_t session) {
  ASSIGN_OR_RETURN(std::vector<InodeId> orphans, store::OrphansOf(tx, session));
  for (InodeId inode : orphans) RETURN_IF_ERROR(store::DeleteInode(tx, inode));
  RETURN_IF_ERROR(store::DeleteClientSession(tx, session));
  return static_cast<int>(orphans.size());
}

}  // namespace

Result<OpenedSession> OpenClientSession(OpContext& ctx, const std::string& owner,
                                        std::string_view description) {
  if (description.size() > kMaxSessionDescription) {
    return InvalidArgument("a session description of more than " +
                           std::to_string(kMaxSessionDescription) + " bytes");
  }
  RETURN_IF_ERROR(ValidateText(description, "session description"));
  const std::string d(description);
  OpenedSession out;
  out.timeout_ms = ctx.sessions.timeout_ms;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(out.id,
                     store::InsertClientSession(tx, owner, d, now, now + ctx.sessions.timeout_ms));
    return Status();
  }));
  LOG(kInfo) << "client session " << out.id << " opened by " << owner << ": " << d;
  return out;
}

Result<int> RenewClientSession(OpContext& ctx, const std::string& owner, int64_t session) {
  RETURN_IF_ERROR(ValidateSessionId(session));
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    OrphanHolder holder;
    holder.session = session;
    holder.owner = owner;
    RETURN_IF_ERROR(CheckHolder(tx, holder));
    return store::SetClientSessionExpiry(tx, session, NowMs() + ctx.sessions.timeout_ms).status();
  }));
  return ctx.sessions.timeout_ms;
}

Result<int> CloseClientSession(OpContext& ctx, const std::string& owner, int64_t session) {
  RETURN_IF_ERROR(ValidateSessionId(session));
  int released = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    released = 0;
    ASSIGN_OR_RETURN(std::optional<store::ClientSessionRecord> s,
                     store::GetClientSession(tx, session));
    if (!s) return Status();  // closed or reaped already
    if (s->principal != owner) return NotOwner(session);
    ASSIGN_OR_RETURN(released, DropSession(tx, session));
    return Status();
  }));
  LOG(kInfo) << "client session " << session << " closed; " << released << " orphan(s) deleted";
  return released;
}

Status ReleaseOrphan(OpContext& ctx, const std::string& owner, int64_t session, InodeId inode) {
  RETURN_IF_ERROR(ValidateSessionId(session));
  RETURN_IF_ERROR(ValidateInode(inode));
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<store::ClientSessionRecord> s,
                     store::GetClientSession(tx, session));
    // A session that is gone holds no orphan (they went with it).
    if (!s) return Status();
    if (s->principal != owner) return NotOwner(session);
    ASSIGN_OR_RETURN(std::optional<store::OrphanRecord> o, store::GetOrphan(tx, inode));
    if (!o) return Status();  // released already (a retry), or not an orphan
    if (o->session_id != session) {
      return Status(ErrorCode::kPermissionDenied,
                    "inode " + std::to_string(inode) + " is held by another client session");
    }
    return store::DeleteInode(tx, inode);
  });
}

Result<int> ReapExpiredSessions(OpContext& ctx, int limit) {
  std::vector<store::ClientSessionRecord> reaped;
  std::vector<int> orphans;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    reaped.clear();
    orphans.clear();
    ASSIGN_OR_RETURN(reaped, store::ExpiredClientSessions(tx, NowMs(), limit));
    for (const store::ClientSessionRecord& s : reaped) {
      ASSIGN_OR_RETURN(int n, DropSession(tx, s.id));
      orphans.push_back(n);
    }
    return Status();
  }));
  for (size_t i = 0; i < reaped.size(); ++i) {
    LOG(kInfo) << "client session " << reaped[i].id << " of " << reaped[i].principal << " ("
               << reaped[i].description << ") was not renewed for " << ctx.sessions.timeout_ms
               << " ms: closed, " << orphans[i] << " orphan(s) deleted";
  }
  return static_cast<int>(reaped.size());
}

}  // namespace ddbfs::meta
