// Client sessions and their orphans (docs/metadata.md, "Client sessions and
// orphans").

#include "ddbfs/log.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/open_files.h"
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

// Drops the session's rows of `inodes` (or of every inode but them) and
// deletes the orphans that no session holds any more; returns how many.
Result<int> DropHolds(store::Tx& tx, int64_t session, const std::vector<InodeId>& inodes,
                      bool all_but) {
  ASSIGN_OR_RETURN(std::vector<InodeId> gone, store::DropOrphanRows(tx, session, inodes, all_but));
  for (InodeId inode : gone) RETURN_IF_ERROR(store::DeleteInode(tx, inode));
  return static_cast<int>(gone.size());
}

// Drops every orphan row of `session` (deleting the orphans nobody else
// holds) and the session row; returns how many orphans were deleted. The
// session leaves the open sets first, so that no unlink run after this in
// the writer names it as a holder.
Result<int> DropSession(OpContext& ctx, store::Tx& tx, int64_t session) {
  if (ctx.open_files != nullptr) ctx.open_files->DropSession(session);
  ASSIGN_OR_RETURN(int deleted, DropHolds(tx, session, {}, /*all_but=*/true));
  RETURN_IF_ERROR(store::DeleteClientSession(tx, session));
  return deleted;
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
    if (ctx.open_files != nullptr) ctx.open_files->AddSession(out.id, owner);
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

bool OpenSetNeeded(OpContext& ctx, int64_t session) {
  return ctx.open_files != nullptr && !ctx.open_files->Complete(session);
}

Result<OpenFilesUpdate> UpdateOpenFiles(OpContext& ctx, const std::string& owner, int64_t session,
                                        const std::vector<InodeId>& opened,
                                        const std::vector<InodeId>& released, bool full_set) {
  RETURN_IF_ERROR(ValidateSessionId(session));
  if (ctx.open_files == nullptr)
    return Status(ErrorCode::kNotSupported, "this metaserver keeps no open files");
  if (opened.size() > ctx.sessions.max_open_files) {
    return Status(ErrorCode::kTooManyOpen,
                  "declaring " + std::to_string(opened.size()) + " open files at once; at most " +
                      std::to_string(ctx.sessions.max_open_files) +
                      " are allowed (ddbfs-metaserver --max-open-files-per-session)");
  }
  if (released.size() > kMaxReleasedPerCall) {
    return InvalidArgument("more than " + std::to_string(kMaxReleasedPerCall) +
                           " released files in one call");
  }
  for (InodeId i : opened) RETURN_IF_ERROR(ValidateInode(i));
  for (InodeId i : released) RETURN_IF_ERROR(ValidateInode(i));
  OpenFiles& files = *ctx.open_files;
  OpenFilesUpdate out;
  if (full_set) {
    RETURN_IF_ERROR(files.Replace(session, owner, opened));
  } else {
    RETURN_IF_ERROR(files.Declare(session, owner, opened).status());
    RETURN_IF_ERROR(files.Release(session, owner, released));
  }
  // Orphans this session held and no longer has open: its rows go, and the
  // files no other session holds with them. With full_set every row of an
  // inode outside the set (those it got while it was incomplete).
  // A batch of releases with no orphan among it needs no transaction.
  std::vector<InodeId> held;
  if (!full_set) held = files.TakeHeld(session, released);
  if (full_set || !held.empty()) {
    Status s = ctx.writer.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(out.orphans_deleted,
                       DropHolds(tx, session, full_set ? opened : held, full_set));
      return Status();
    });
    if (!s.ok()) {
      for (InodeId i : held) files.MarkHeld({session}, i);
      return s;
    }
  }
  if (out.orphans_deleted > 0) {
    LOG(kInfo) << "client session " << session << " released " << out.orphans_deleted
               << " unlinked file(s) no other session has open: deleted";
  }
  out.open_set_needed = !files.Complete(session);
  return out;
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
    ASSIGN_OR_RETURN(released, DropSession(ctx, tx, session));
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
    // Released already (a retry), or not an orphan of this session; other
    // sessions that hold it keep it.
    return DropHolds(tx, session, {inode}, /*all_but=*/false).status();
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
      ASSIGN_OR_RETURN(int n, DropSession(ctx, tx, s.id));
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
