#include "metaserver/service/meta_service.h"

#include <algorithm>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/fsck.h"
#include "metaserver/ops/goal_ops.h"
#include "metaserver/ops/lease_settler.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/open_files.h"
#include "metaserver/ops/server_ops.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/session_ops.h"
#include "metaserver/ops/validate.h"
#include "metaserver/service/convert.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/session_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// The longest deadline a caller may ask for.
constexpr int kMaxTimeoutMs = 10 * 60 * 1000;

// f(), with an exception turned into INTERNAL.
template <typename F>
Status Guarded(const char* rpc_name, F& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    LOG(kError) << rpc_name << " failed: " << e.what();
    return Internal(std::string(rpc_name) + " failed: " + e.what());
  }
}

// A whole response struct as TBinaryProtocol bytes (the request log's form).
template <typename Resp>
std::string Serialize(const Resp& resp) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  resp.write(&protocol);
  return buffer->getBufferAsString();
}

template <typename Resp>
Status Deserialize(const std::string& bytes, Resp* resp) {
  try {
    auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>(
        reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data())),
        static_cast<uint32_t>(bytes.size()), apache::thrift::transport::TMemoryBuffer::OBSERVE);
    apache::thrift::protocol::TBinaryProtocol protocol(buffer);
    *resp = Resp();
    resp->read(&protocol);
  } catch (const apache::thrift::TException& e) {
    return Internal(std::string("cannot decode a recorded answer: ") + e.what());
  }
  return Status();
}

}  // namespace

store::Deadline MetaServiceHandler::DeadlineOf(const rpc::RequestContext& rc) const {
  std::chrono::milliseconds timeout = default_timeout_;
  if (rc.__isset.timeout_ms && rc.timeout_ms > 0) {
    timeout = std::chrono::milliseconds(std::min(rc.timeout_ms, kMaxTimeoutMs));
  }
  return store::Clock::now() + timeout;
}

Status MetaServiceHandler::Active() const {
  return ctx_.check_active ? ctx_.check_active() : Status();
}

void MetaServiceHandler::RepairAfter(const rpc::RpcStatus& status, bool kick) {
  if (status.code != rpc::ErrorCode::OK || ctx_.repairer == nullptr) return;
  if (kick) {
    ctx_.repairer->Kick();
  } else {
    ctx_.repairer->MarkDirty();
  }
}

Result<Access> MetaServiceHandler::Authorize(const char* rpc_name, const rpc::RequestContext* rc,
                                             Need need) const {
  ASSIGN_OR_RETURN(Access a, session_.Authorize(security_, rc));
  // Not identity: the mode shaping a create asks for, from whoever calls.
  if (rc != nullptr && rc->__isset.umask) a.caller.umask = static_cast<uint32_t>(rc->umask) & 0777u;
  if (need == Need::kServer && !a.server) {
    return Status(ErrorCode::kPermissionDenied,
                  std::string(rpc_name) + " is only for chunk servers (the cluster key); " +
                      a.principal + " may not call it");
  }
  if (need == Need::kAdmin && !a.admin) {
    return Status(ErrorCode::kPermissionDenied,
                  std::string(rpc_name) + " needs an admin (root on the metaserver's host, or an " +
                      "admin key); " + a.principal + " is not one");
  }
  return a;
}

template <typename Resp, typename F>
void MetaServiceHandler::Handle(const char* rpc_name, const rpc::RequestContext* rc, Need need,
                                Resp& resp, F&& f) {
  if (Status active = Active(); !active.ok()) {
    resp.status = ToRpc(active);
    return;
  }
  Result<Access> access = Authorize(rpc_name, rc, need);
  if (!access.ok()) {
    resp.status = ToRpc(access.status());
    return;
  }
  store::DeadlineScope deadline(store::Clock::now() + default_timeout_);
  auto run = [&]() -> Status { return f(*access); };
  resp.status = ToRpc(Guarded(rpc_name, run));
}

template <typename Resp, typename F>
void MetaServiceHandler::Mutate(const char* rpc_name, const rpc::RequestContext& rc, Resp& resp,
                                F&& f, bool on_writer) {
  if (Status active = Active(); !active.ok()) {
    resp.status = ToRpc(active);
    return;
  }
  Result<Access> access = Authorize(rpc_name, &rc, Need::kUser);
  if (access.ok() && access->read_only) {
    access = Status(ErrorCode::kReadOnly, std::string(rpc_name) + " changes the file system, and " +
                                              access->principal + " reaches it read-only");
  }
  if (!access.ok()) {
    resp.status = ToRpc(access.status());
    return;
  }
  const Access& a = *access;
  auto run = [&]() -> Status { return f(a); };
  const store::Deadline deadline = DeadlineOf(rc);
  if (!rc.__isset.client_id || !on_writer) {
    store::DeadlineScope scope(deadline);
    resp.status = ToRpc(Guarded(rpc_name, run));
    return;
  }
  if (rc.client_id.size() != store::kClientIdBytes || !rc.__isset.seq) {
    resp.status = ToRpc(InvalidArgument(
        "a request id needs a client_id of " + std::to_string(store::kClientIdBytes) +
        " bytes and a seq (got " + std::to_string(rc.client_id.size()) + " bytes)"));
    return;
  }
  store::WriteQueue::OnceRequest once;
  once.key = store::RequestKey{rc.client_id, rc.seq};
  once.rpc = rpc_name;
  once.run = [&]() -> Status {
    resp = Resp();  // it may run more than once (after a rollback)
    return Guarded(rpc_name, run);
  };
  once.answer = [&] {
    resp.status = RpcOk();
    return Serialize(resp);
  };
  once.replay = [&](const std::string& bytes) { return Deserialize(bytes, &resp); };
  Status s = ctx_.writer.RunOnce(std::move(once), deadline);
  resp.status = ToRpc(s);
}

namespace {

// Sets *out from a Result, or returns its failure.
template <typename T, typename Out, typename Conv>
Status Fill(Result<T>&& r, Out* out, Conv&& conv) {
  if (!r.ok()) return r.status();
  *out = conv(*r);
  return Status();
}

const auto kAttr = [](const Attr& a) { return ToWire(a); };

// The optional context of a read request.
template <typename Req>
const rpc::RequestContext* CtxOf(const Req& req) {
  return req.__isset.ctx ? &req.ctx : nullptr;
}

}  // namespace

void MetaServiceHandler::Lookup(rpc::LookupResponse& resp, const rpc::LookupRequest& req) {
  Handle("Lookup", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    return Fill(meta::Lookup(ctx_, a.caller, req.parent, req.name), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::ResolvePath(rpc::ResolvePathResponse& resp,
                                     const rpc::ResolvePathRequest& req) {
  Handle("ResolvePath", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    // A key limited to a subtree sees that directory as "/".
    const std::string path =
        a.subtree == "/" ? req.path : (req.path == "/" ? a.subtree : a.subtree + req.path);
    return Fill(meta::ResolvePath(ctx_, a.caller, path), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::GetAttr(rpc::GetAttrResponse& resp, const rpc::GetAttrRequest& req) {
  Handle("GetAttr", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return Fill(meta::GetAttr(ctx_, a.caller, req.inode), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::SetAttr(rpc::SetAttrResponse& resp, const rpc::SetAttrRequest& req) {
  Mutate("SetAttr", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    AttrChanges c;
    if (req.__isset.mode) c.mode = static_cast<uint32_t>(req.mode);
    if (req.__isset.uid) c.uid = static_cast<uint32_t>(req.uid);
    if (req.__isset.gid) c.gid = static_cast<uint32_t>(req.gid);
    if (req.__isset.size) {
      if (req.size < 0) return InvalidArgument("negative size " + std::to_string(req.size));
      c.size = static_cast<uint64_t>(req.size);
    }
    if (req.__isset.atime_ns) c.atime_ns = req.atime_ns;
    if (req.__isset.mtime_ns) c.mtime_ns = req.mtime_ns;
    if (req.__isset.goal) c.goal = req.goal;
    return Fill(meta::SetAttr(ctx_, a.caller, req.inode, c), &resp.attr, kAttr);
  });
  if (req.__isset.goal) RepairAfter(resp.status, /*kick=*/true);
}

void MetaServiceHandler::UpdateAtime(rpc::UpdateAtimeResponse& resp,
                                     const rpc::UpdateAtimeRequest& req) {
  Mutate("UpdateAtime", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(meta::ValidateAtimeReadCount(req.reads.size()));
    std::vector<int64_t> inodes;
    std::vector<meta::AtimeRead> reads;
    for (const rpc::AtimeRead& r : req.reads) {
      inodes.push_back(r.inode);
      reads.push_back(meta::AtimeRead{r.inode, r.atime_ns});
    }
    RETURN_IF_ERROR(Confine(a, inodes));
    ASSIGN_OR_RETURN(meta::AtimeResult r, meta::UpdateAtimes(ctx_, a.caller, reads, req.relatime));
    resp.updated = r.updated;
    resp.skipped = r.skipped;
    return Status();
  });
}

namespace {
// At most `limit` (the ops layer's bound, checked again there) before
// anything is copied.
Result<std::vector<Tag>> TagsOf(const std::vector<rpc::Tag>& wire, size_t limit) {
  if (wire.size() > limit) {
    return InvalidArgument(std::to_string(wire.size()) + " tags in one call (at most " +
                           std::to_string(limit) + ")");
  }
  return FromRpc(wire);
}
}  // namespace

void MetaServiceHandler::SetTags(rpc::SetTagsResponse& resp, const rpc::SetTagsRequest& req) {
  Mutate("SetTags", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(std::vector<Tag> add, TagsOf(req.add, meta::kMaxTagsPerCall));
    ASSIGN_OR_RETURN(std::vector<Tag> remove, TagsOf(req.remove, meta::kMaxTagsPerCall));
    ASSIGN_OR_RETURN(std::vector<Tag> tags, meta::SetTags(ctx_, a.caller, req.inode, add, remove));
    resp.tags = ToRpc(tags);
    return Status();
  });
}

void MetaServiceHandler::GetTags(rpc::GetTagsResponse& resp, const rpc::GetTagsRequest& req) {
  Handle("GetTags", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(std::vector<Tag> tags, meta::GetTags(ctx_, a.caller, req.inode));
    resp.tags = ToRpc(tags);
    return Status();
  });
}

void MetaServiceHandler::ListTags(rpc::ListTagsResponse& resp, const rpc::ListTagsRequest& req) {
  Handle("ListTags", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    if (req.__isset.names_only && req.names_only) {
      ASSIGN_OR_RETURN(meta::TagList names, meta::ListTagNames(ctx_, req.offset, req.limit));
      for (meta::TagCount& c : names.tags) {
        rpc::TagCount w;
        w.name = std::move(c.name);
        resp.tags.push_back(std::move(w));
      }
      resp.more = names.more;
      return Status();
    }
    std::optional<std::string> within;
    std::optional<std::string> name;
    if (req.__isset.within) within = req.within;
    if (req.__isset.name) name = req.name;
    ASSIGN_OR_RETURN(meta::TagList list,
                     meta::ListTags(ctx_, a.caller, a.root, within, name, req.offset, req.limit));
    resp.tags.reserve(list.tags.size());
    for (meta::TagCount& c : list.tags) {
      rpc::TagCount w;
      w.name = std::move(c.name);
      if (c.value) w.__set_value(std::move(*c.value));
      w.documents = c.documents;
      w.bytes = c.bytes;
      resp.tags.push_back(std::move(w));
    }
    resp.more = list.more;
    return Status();
  });
}

void MetaServiceHandler::TagMany(rpc::TagManyResponse& resp, const rpc::TagManyRequest& req) {
  // Over the bulk threshold it is one transaction beside the writer
  // (store/bulk_writer.h): setting and removing tags is idempotent, so a
  // retry needs no recorded answer (it reports 0 documents changed).
  const bool bulk = req.inodes.size() > ctx_.bulk_threshold && ctx_.bulk != nullptr;
  Mutate(
      "TagMany", req.ctx, resp,
      [&](const Access& a) -> Status {
        if (req.inodes.size() > meta::kMaxTagManyInodes) {
          return InvalidArgument(std::to_string(req.inodes.size()) +
                                 " documents in one call (at most " +
                                 std::to_string(meta::kMaxTagManyInodes) + ")");
        }
        RETURN_IF_ERROR(Confine(a, req.inodes));
        ASSIGN_OR_RETURN(std::vector<Tag> add, TagsOf(req.add, meta::kMaxTagsPerCall));
        ASSIGN_OR_RETURN(std::vector<Tag> remove, TagsOf(req.remove, meta::kMaxTagsPerCall));
        ASSIGN_OR_RETURN(resp.changed, meta::TagMany(ctx_, a.caller, req.inodes, add, remove));
        return Status();
      },
      !bulk);
}

void MetaServiceHandler::TagAdmin(rpc::TagAdminResponse& resp, const rpc::TagAdminRequest& req) {
  Mutate("TagAdmin", req.ctx, resp, [&](const Access& a) -> Status {
    meta::TagAdminOp op;
    switch (req.op) {
      case rpc::TagAdminOp::CREATE:
        op = meta::TagAdminOp::kCreate;
        break;
      case rpc::TagAdminOp::RENAME:
        op = meta::TagAdminOp::kRename;
        break;
      case rpc::TagAdminOp::MERGE:
        op = meta::TagAdminOp::kMerge;
        break;
      case rpc::TagAdminOp::DELETE:
        op = meta::TagAdminOp::kDelete;
        break;
      case rpc::TagAdminOp::IMPLY:
        op = meta::TagAdminOp::kImply;
        break;
      case rpc::TagAdminOp::UNIMPLY:
        op = meta::TagAdminOp::kUnimply;
        break;
      default:
        return InvalidArgument("unknown tag operation " + std::to_string(req.op));
    }
    // Tag names are the whole cluster's: an admin connection acting as root.
    const bool admin = a.admin && a.caller.uid == 0;
    ASSIGN_OR_RETURN(resp.documents, meta::TagAdmin(ctx_, admin, op, req.name, req.other));
    return Status();
  });
}

void MetaServiceHandler::ListImplications(rpc::ListImplicationsResponse& resp,
                                          const rpc::ListImplicationsRequest& req) {
  Handle("ListImplications", CtxOf(req), Need::kUser, resp, [&](const Access&) -> Status {
    ASSIGN_OR_RETURN(auto rules, meta::ListImplications(ctx_));
    for (auto& [tag, implied] : rules) {
      rpc::TagRule r;
      r.tag = std::move(tag);
      r.implied = std::move(implied);
      resp.rules.push_back(std::move(r));
    }
    return Status();
  });
}

void MetaServiceHandler::Query(rpc::QueryResponse& resp, const rpc::QueryRequest& req) {
  Handle("Query", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    ASSIGN_OR_RETURN(QueryPage page, meta::QueryDocuments(ctx_, a.caller, req.expr, req.after_inode,
                                                          req.limit, a.root));
    resp.entries.reserve(page.entries.size());
    for (const QueryEntry& e : page.entries) {
      rpc::QueryEntry w;
      // Paths as this client names them: a subtree key's directory is "/".
      w.path = e.path;
      if (a.root != kRootInode && a.subtree != "/" && w.path.starts_with(a.subtree)) {
        w.path = w.path.size() == a.subtree.size() ? "/" : w.path.substr(a.subtree.size());
      }
      w.attr = ToWire(e.attr);
      resp.entries.push_back(std::move(w));
    }
    resp.next_after = page.next_after;
    resp.more = page.more;
    return Status();
  });
}

void MetaServiceHandler::SaveQuery(rpc::SaveQueryResponse& resp, const rpc::SaveQueryRequest& req) {
  Mutate("SaveQuery", req.ctx, resp, [&](const Access& a) -> Status {
    return meta::SaveQuery(ctx_, a.caller, req.name, req.expr);
  });
}

void MetaServiceHandler::DeleteQuery(rpc::DeleteQueryResponse& resp,
                                     const rpc::DeleteQueryRequest& req) {
  Mutate("DeleteQuery", req.ctx, resp,
         [&](const Access& a) -> Status { return meta::DeleteQuery(ctx_, a.caller, req.name); });
}

void MetaServiceHandler::ListQueries(rpc::ListQueriesResponse& resp,
                                     const rpc::ListQueriesRequest& req) {
  Handle("ListQueries", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    ASSIGN_OR_RETURN(std::vector<SavedQuery> queries, meta::ListQueries(ctx_, a.caller));
    for (const SavedQuery& q : queries) {
      rpc::SavedQuery w;
      w.name = q.name;
      w.expr = q.expr;
      w.owner_uid = static_cast<int32_t>(q.owner_uid);
      resp.queries.push_back(std::move(w));
    }
    return Status();
  });
}

void MetaServiceHandler::Mkdir(rpc::MkdirResponse& resp, const rpc::MkdirRequest& req) {
  Mutate("Mkdir", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    Attr dir;
    ASSIGN_OR_RETURN(Attr made, meta::Mkdir(ctx_, a.caller, req.parent, req.name,
                                            static_cast<uint32_t>(req.mode), &dir));
    resp.attr = ToWire(made);
    resp.__set_dir_attr(ToWire(dir));
    return Status();
  });
}

void MetaServiceHandler::Create(rpc::CreateResponse& resp, const rpc::CreateRequest& req) {
  Mutate("Create", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    std::optional<int> goal;
    if (req.__isset.goal) goal = req.goal;
    std::optional<int64_t> mtime;
    if (req.__isset.mtime_ns) mtime = req.mtime_ns;
    const auto mode = static_cast<uint32_t>(req.mode);
    ASSIGN_OR_RETURN(std::vector<Tag> tags, TagsOf(req.tags, meta::kMaxTagsPerCall));
    // The creator opens the new file: checked before, declared after.
    bool declare = false;
    if (req.__isset.open_session && ctx_.open_files != nullptr) {
      Status can = ctx_.open_files->CanDeclare(req.open_session, a.owner);
      if (can.code() == ErrorCode::kLeaseExpired) {
        resp.__set_open_set_needed(true);  // the client replaces its session
      } else {
        RETURN_IF_ERROR(can);
        declare = true;
      }
    }
    const auto declared = [&](InodeId made) {
      if (!declare) return;
      Result<std::vector<InodeId>> d = ctx_.open_files->Declare(req.open_session, a.owner, {made});
      if (!d.ok() || meta::OpenSetNeeded(ctx_, req.open_session)) resp.__set_open_set_needed(true);
    };
    Attr dir;
    if (!req.prepare_first_chunk) {
      ASSIGN_OR_RETURN(Attr made, meta::Create(ctx_, a.caller, req.parent, req.name, mode, goal,
                                               mtime, &dir, tags));
      declared(made.inode);
      resp.attr = ToWire(made);
      resp.__set_dir_attr(ToWire(dir));
      return Status();
    }
    ASSIGN_OR_RETURN(CreateOutcome f, meta::CreateForWrite(ctx_, a.caller, req.parent, req.name,
                                                           mode, goal, mtime, &dir, tags));
    declared(f.attr.inode);
    resp.attr = ToWire(f.attr);
    resp.__set_dir_attr(ToWire(dir));
    if (f.first_chunk) {
      rpc::ChunkPlacement p = ToWire(0, *f.first_chunk);
      p.__set_capability(Sign(p.chunk_id, p.version, kCapWrite, p.replicas));
      resp.__set_first_chunk(std::move(p));
    }
    return Status();
  });
}

void MetaServiceHandler::Symlink(rpc::SymlinkResponse& resp, const rpc::SymlinkRequest& req) {
  Mutate("Symlink", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    return Fill(meta::Symlink(ctx_, a.caller, req.parent, req.name, req.target), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Mknod(rpc::MknodResponse& resp, const rpc::MknodRequest& req) {
  Mutate("Mknod", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    return Fill(
        meta::Mknod(ctx_, a.caller, req.parent, req.name,
                    static_cast<FileType>(static_cast<int>(req.type)),
                    static_cast<uint32_t>(req.mode) & 07777, static_cast<uint64_t>(req.rdev)),
        &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Readlink(rpc::ReadlinkResponse& resp, const rpc::ReadlinkRequest& req) {
  Handle("Readlink", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return Fill(meta::Readlink(ctx_, a.caller, req.inode), &resp.target,
                [](const std::string& t) { return t; });
  });
}

void MetaServiceHandler::GetXattr(rpc::GetXattrResponse& resp, const rpc::GetXattrRequest& req) {
  Handle("GetXattr", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return Fill(meta::GetXattr(ctx_, a.caller, req.inode, req.name), &resp.value,
                [](const std::string& v) { return v; });
  });
}

void MetaServiceHandler::ListXattr(rpc::ListXattrResponse& resp, const rpc::ListXattrRequest& req) {
  Handle("ListXattr", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return Fill(meta::ListXattr(ctx_, a.caller, req.inode), &resp.names,
                [](const std::vector<std::string>& n) { return n; });
  });
}

void MetaServiceHandler::SetXattr(rpc::SetXattrResponse& resp, const rpc::SetXattrRequest& req) {
  Mutate("SetXattr", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return meta::SetXattr(ctx_, a.caller, req.inode, req.name, req.value, req.flags);
  });
}

void MetaServiceHandler::RemoveXattr(rpc::RemoveXattrResponse& resp,
                                     const rpc::RemoveXattrRequest& req) {
  Mutate("RemoveXattr", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return meta::RemoveXattr(ctx_, a.caller, req.inode, req.name);
  });
}

void MetaServiceHandler::Link(rpc::LinkResponse& resp, const rpc::LinkRequest& req) {
  Mutate("Link", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode, req.new_parent}));
    return Fill(meta::Link(ctx_, a.caller, req.inode, req.new_parent, req.new_name), &resp.attr,
                kAttr);
  });
}

namespace {
// The orphan holder a request names (session_id set), else nullopt.
template <typename Req>
std::optional<OrphanHolder> HolderOf(const Req& req, const Access& a) {
  if (!req.__isset.session_id) return std::nullopt;
  OrphanHolder h;
  h.session = req.session_id;
  h.owner = a.owner;
  h.open_inodes = req.open_inodes;
  return h;
}
}  // namespace

void MetaServiceHandler::Unlink(rpc::UnlinkResponse& resp, const rpc::UnlinkRequest& req) {
  Mutate("Unlink", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    const std::optional<OrphanHolder> holder = HolderOf(req, a);
    Attr dir;
    if (!holder) {
      RETURN_IF_ERROR(meta::Unlink(ctx_, a.caller, req.parent, req.name, &dir));
    } else {
      ASSIGN_OR_RETURN(InodeId orphaned, meta::UnlinkKeepingOpen(ctx_, a.caller, req.parent,
                                                                 req.name, *holder, &dir));
      if (orphaned != 0) resp.__set_orphaned_inode(orphaned);
    }
    resp.__set_dir_attr(ToWire(dir));
    return Status();
  });
}

void MetaServiceHandler::Rmdir(rpc::RmdirResponse& resp, const rpc::RmdirRequest& req) {
  Mutate("Rmdir", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent}));
    Attr dir;
    RETURN_IF_ERROR(meta::Rmdir(ctx_, a.caller, req.parent, req.name, &dir));
    resp.__set_dir_attr(ToWire(dir));
    return Status();
  });
}

void MetaServiceHandler::Rename(rpc::RenameResponse& resp, const rpc::RenameRequest& req) {
  Mutate("Rename", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.parent, req.new_parent}));
    const std::optional<OrphanHolder> holder = HolderOf(req, a);
    if (!holder) {
      return meta::Rename(ctx_, a.caller, req.parent, req.name, req.new_parent, req.new_name,
                          req.flags);
    }
    ASSIGN_OR_RETURN(InodeId orphaned,
                     meta::RenameKeepingOpen(ctx_, a.caller, req.parent, req.name, req.new_parent,
                                             req.new_name, req.flags, *holder));
    if (orphaned != 0) resp.__set_orphaned_inode(orphaned);
    return Status();
  });
}

void MetaServiceHandler::OpenSession(rpc::OpenSessionResponse& resp,
                                     const rpc::OpenSessionRequest& req) {
  Mutate("OpenSession", req.ctx, resp, [&](const Access& a) -> Status {
    ASSIGN_OR_RETURN(OpenedSession s, meta::OpenClientSession(ctx_, a.owner, req.description));
    resp.session_id = s.id;
    resp.timeout_ms = s.timeout_ms;
    return Status();
  });
}

void MetaServiceHandler::RenewSession(rpc::RenewSessionResponse& resp,
                                      const rpc::RenewSessionRequest& req) {
  Mutate("RenewSession", req.ctx, resp, [&](const Access& a) -> Status {
    ASSIGN_OR_RETURN(resp.timeout_ms, meta::RenewClientSession(ctx_, a.owner, req.session_id));
    if (meta::OpenSetNeeded(ctx_, req.session_id)) resp.__set_open_set_needed(true);
    return Status();
  });
}

void MetaServiceHandler::CloseSession(rpc::CloseSessionResponse& resp,
                                      const rpc::CloseSessionRequest& req) {
  Mutate("CloseSession", req.ctx, resp, [&](const Access& a) -> Status {
    ASSIGN_OR_RETURN(resp.released, meta::CloseClientSession(ctx_, a.owner, req.session_id));
    return Status();
  });
}

void MetaServiceHandler::ReleaseOrphan(rpc::ReleaseOrphanResponse& resp,
                                       const rpc::ReleaseOrphanRequest& req) {
  Mutate("ReleaseOrphan", req.ctx, resp, [&](const Access& a) -> Status {
    return meta::ReleaseOrphan(ctx_, a.owner, req.session_id, req.inode);
  });
}

void MetaServiceHandler::UpdateOpenFiles(rpc::UpdateOpenFilesResponse& resp,
                                         const rpc::UpdateOpenFilesRequest& req) {
  // Not through the request log: declaring and releasing are idempotent,
  // and a mount sends them one at a time (fuse/mount_session.h).
  Handle("UpdateOpenFiles", &req.ctx, Need::kUser, resp, [&](const Access& a) -> Status {
    if (a.read_only) {
      return Status(ErrorCode::kReadOnly, "a read-only export holds no client session");
    }
    // A declared file is kept after its unlink: only files this connection
    // may reach (as for GetChunks).
    if (req.opened.size() > ctx_.sessions.max_open_files) {
      return Status(ErrorCode::kTooManyOpen,
                    "declaring " + std::to_string(req.opened.size()) +
                        " open files at once; at most " +
                        std::to_string(ctx_.sessions.max_open_files) +
                        " are allowed (ddbfs-metaserver --max-open-files-per-session)");
    }
    RETURN_IF_ERROR(Confine(a, req.opened));
    ASSIGN_OR_RETURN(OpenFilesUpdate u,
                     meta::UpdateOpenFiles(ctx_, a.owner, req.session_id, req.opened, req.released,
                                           req.full_set));
    resp.open_set_needed = u.open_set_needed;
    resp.orphans_deleted = u.orphans_deleted;
    return Status();
  });
}

void MetaServiceHandler::GetContentHash(rpc::GetContentHashResponse& resp,
                                        const rpc::GetContentHashRequest& req) {
  Handle("GetContentHash", &req.ctx, Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(ContentHashView h, meta::GetContentHash(ctx_, a.caller, req.inode));
    if (h.sha256) resp.__set_sha256(*h.sha256);
    resp.size = static_cast<int64_t>(h.size);
    resp.stale_chunks = h.stale_chunks;
    return Status();
  });
}

void MetaServiceHandler::FindDuplicates(rpc::FindDuplicatesResponse& resp,
                                        const rpc::FindDuplicatesRequest& req) {
  Handle("FindDuplicates", &req.ctx, Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.under}));
    DuplicatesCursor from;
    if (req.__isset.page_token) {
      ASSIGN_OR_RETURN(std::string plain, security_.page_tokens.Open(req.page_token));
      ASSIGN_OR_RETURN(from, DecodeDuplicatesCursor(plain, req.under, req.empty));
    }
    ASSIGN_OR_RETURN(DuplicatesPage page,
                     meta::FindDuplicates(ctx_, a.caller, req.under, req.empty, from, req.limit));
    resp.entries.reserve(page.entries.size());
    for (DuplicateHit& e : page.entries) {
      rpc::DuplicateEntry w;
      // Paths as this client names them: a subtree key's directory is "/".
      w.path = std::move(e.path);
      if (a.root != kRootInode && a.subtree != "/" && w.path.starts_with(a.subtree)) {
        w.path = w.path.size() == a.subtree.size() ? "/" : w.path.substr(a.subtree.size());
      }
      w.attr = ToWire(e.attr);
      w.sha256 = std::move(e.sha256);
      resp.entries.push_back(std::move(w));
    }
    resp.stale = page.stale;
    if (page.next) {
      resp.__set_page_token(
          security_.page_tokens.Seal(EncodeDuplicatesCursor(*page.next, req.under, req.empty)));
    }
    return Status();
  });
}

void MetaServiceHandler::ReadDir(rpc::ReadDirResponse& resp, const rpc::ReadDirRequest& req) {
  Handle("ReadDir", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(DirPage page,
                     meta::ReadDir(ctx_, a.caller, req.inode, req.after_name, req.limit));
    resp.entries.reserve(page.entries.size());
    for (const DirEntry& e : page.entries) {
      rpc::DirEntry out;
      out.name = e.name;
      out.attr = ToWire(e.attr);
      resp.entries.push_back(std::move(out));
    }
    resp.more = page.more;
    return Status();
  });
}

void MetaServiceHandler::GetChunks(rpc::GetChunksResponse& resp, const rpc::GetChunksRequest& req) {
  Handle("GetChunks", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    // An open declared before the map is read: an unlink that commits after
    // this read finds the session among the file's holders.
    std::vector<InodeId> added;
    if (req.__isset.open_session && ctx_.open_files != nullptr) {
      Result<std::vector<InodeId>> d =
          ctx_.open_files->Declare(req.open_session, a.owner, {req.inode});
      if (d.status().code() == ErrorCode::kLeaseExpired) {
        resp.__set_open_set_needed(true);  // the client replaces its session
      } else {
        RETURN_IF_ERROR(d.status());
        added = std::move(d).value();
        if (meta::OpenSetNeeded(ctx_, req.open_session)) resp.__set_open_set_needed(true);
      }
    }
    Result<ChunkMapView> got =
        meta::GetChunks(ctx_, a.caller, req.inode, req.first_index, req.count, req.all_replicas);
    if (!got.ok() || got->attr.type != FileType::kRegular) {
      // Nothing was opened: undo what this call declared.
      if (!added.empty()) (void)ctx_.open_files->Release(req.open_session, a.owner, added);
      RETURN_IF_ERROR(got.status());
    }
    ChunkMapView map = std::move(got).value();
    resp.attr = ToWire(map.attr);
    for (const ChunkLocation& c : map.chunks) {
      rpc::ChunkInfo info;
      info.index = c.index;
      info.chunk_id = c.chunk_id;
      info.version = c.version;
      info.length = c.length;
      for (const ReplicaLocation& r : c.replicas) {
        rpc::ReplicaInfo ri;
        ri.address = ToWire(r.address);
        ri.version = r.version;
        ri.alive = r.alive;
        ri.label = r.label;
        info.replicas.push_back(std::move(ri));
      }
      if (map.readable) info.__set_read_cap(Sign(c.chunk_id, c.version, kCapRead, {}));
      resp.chunks.push_back(std::move(info));
    }
    return Status();
  });
}

void MetaServiceHandler::PrepareWrite(rpc::PrepareWriteResponse& resp,
                                      const rpc::PrepareWriteRequest& req) {
  Mutate("PrepareWrite", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(WritePlan plan, meta::PrepareWrite(ctx_, a.caller, req.inode, req.index));
    rpc::ChunkPlacement p = ToWire(req.index, plan);
    resp.chunk_id = p.chunk_id;
    resp.version = p.version;
    resp.length = p.length;
    resp.replicas = std::move(p.replicas);
    resp.lease_id = p.lease_id;
    resp.lease_ms = p.lease_ms;
    resp.goal = plan.goal;
    resp.__set_capability(Sign(resp.chunk_id, resp.version, kCapWrite, resp.replicas));
    return Status();
  });
}

void MetaServiceHandler::CommitWrite(rpc::CommitWriteResponse& resp,
                                     const rpc::CommitWriteRequest& req) {
  Mutate("CommitWrite", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    std::vector<ChunkCommitArgs> chunks;
    ReplicaHashes hashes;
    for (const rpc::ChunkCommit& c : req.chunks) {
      chunks.push_back(
          ChunkCommitArgs{c.index, c.chunk_id, c.version, c.length, c.written, c.lease_id});
      // Proofs of the replicas' SHA-256 count only with a chunk server's
      // valid MAC (docs/content_hash.md); the client only relays them. One
      // MAC checked per written server at most.
      std::vector<ReplicaHash>& mine = hashes[c.chunk_id];
      for (const rpc::ChunkHashProof& p : c.hashes) {
        const bool wanted =
            p.chunk_id == c.chunk_id &&
            std::find(c.written.begin(), c.written.end(), p.server_id) != c.written.end() &&
            std::none_of(mine.begin(), mine.end(),
                         [&](const ReplicaHash& h) { return h.server_id == p.server_id; });
        if (!wanted || !security_.hash_proofs.Verify(p)) continue;
        mine.push_back(ReplicaHash{p.server_id, p.session, p.version, p.length, p.sha256});
      }
    }
    std::optional<int64_t> mtime;
    if (req.__isset.mtime_ns) mtime = req.mtime_ns;
    // meta::CommitWrite wakes the repair itself, only when a chunk may be
    // left off its goal.
    return Fill(meta::CommitWrite(ctx_, a.caller, req.inode, chunks, req.size, mtime, hashes),
                &resp.attr, kAttr);
  });
}

void MetaServiceHandler::ReportBadReplica(rpc::ReportBadReplicaResponse& resp,
                                          const rpc::ReportBadReplicaRequest& req) {
  Handle("ReportBadReplica", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    if (!a.server) {
      // A client's word alone never drops a replica: the server holding it
      // verifies it first.
      ASSIGN_OR_RETURN(bool bad, ReplicaConfirmedBad(req.chunk_id, req.server_id));
      if (!bad) return Status();
    }
    return meta::ReportBadReplica(ctx_, a.caller, req.chunk_id, req.server_id,
                                  ErrorCodeFromInt(static_cast<int>(req.reason)));
  });
}

namespace {
std::vector<InventoryItem> InventoryFromWire(const std::vector<rpc::ChunkVersion>& entries) {
  std::vector<InventoryItem> out;
  out.reserve(entries.size());
  for (const rpc::ChunkVersion& cv : entries) out.push_back(InventoryItem{cv.chunk_id, cv.version});
  return out;
}

std::vector<LeaseRef> FromWire(const std::vector<rpc::LeaseRef>& leases) {
  std::vector<LeaseRef> out;
  out.reserve(leases.size());
  for (const auto& l : leases) out.push_back(LeaseRef{l.chunk_id, l.lease_id});
  return out;
}
}  // namespace

void MetaServiceHandler::RenewLease(rpc::RenewLeaseResponse& resp,
                                    const rpc::RenewLeaseRequest& req) {
  Mutate("RenewLease", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(resp.lease_ms,
                     meta::RenewLeases(ctx_, a.caller, req.inode, FromWire(req.leases)));
    return Status();
  });
}

void MetaServiceHandler::ReleaseLease(rpc::ReleaseLeaseResponse& resp,
                                      const rpc::ReleaseLeaseRequest& req) {
  Mutate("ReleaseLease", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    return meta::ReleaseLeases(ctx_, a.caller, req.inode, FromWire(req.leases));
  });
}

void MetaServiceHandler::RecoverWrite(rpc::RecoverWriteResponse& resp,
                                      const rpc::RecoverWriteRequest& req) {
  Mutate("RecoverWrite", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    RecoverArgs args{req.inode,   req.index, req.chunk_id, req.lease_id,
                     req.version, req.good,  req.failed};
    ASSIGN_OR_RETURN(RecoverPlan plan, meta::RecoverWrite(ctx_, a.caller, args));
    resp.version = plan.version;
    for (const ServerAddr& g : plan.good) resp.good.push_back(ToWire(g));
    for (const ServerAddr& n : plan.added) resp.added.push_back(ToWire(n));
    std::vector<rpc::ServerAddress> chain = resp.good;
    chain.insert(chain.end(), resp.added.begin(), resp.added.end());
    resp.__set_capability(Sign(req.chunk_id, resp.version, kCapWrite, std::move(chain)));
    return Status();
  });
}

void MetaServiceHandler::RegisterServer(rpc::RegisterServerResponse& resp,
                                        const rpc::RegisterServerRequest& req) {
  Handle("RegisterServer", nullptr, Need::kServer, resp, [&](const Access&) -> Status {
    RegisterArgs args;
    args.host = req.host;
    args.port = req.port;
    args.label = req.label;
    if (req.__isset.rack) args.rack = req.rack;
    args.uuid = req.uuid;
    args.capacity_bytes = req.capacity_bytes;
    args.used_bytes = req.used_bytes;
    args.inventory = InventoryFromWire(req.inventory);
    args.paged_inventory = req.__isset.paged_inventory && req.paged_inventory;
    args.chunk_count = req.__isset.chunk_count ? req.chunk_count : 0;
    ASSIGN_OR_RETURN(RegisterResult r, meta::RegisterServer(ctx_, args));
    resp.server_id = r.server_id;
    resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
    resp.delete_chunks = std::move(r.delete_chunks);
    resp.__set_session(r.session);
    resp.__set_max_page_entries(r.max_page_entries);
    return Status();
  });
}

void MetaServiceHandler::ReportInventory(rpc::ReportInventoryResponse& resp,
                                         const rpc::ReportInventoryRequest& req) {
  Handle("ReportInventory", nullptr, Need::kServer, resp, [&](const Access&) -> Status {
    InventoryPageArgs args;
    args.server_id = req.server_id;
    args.session = req.session;
    args.last = req.last;
    args.entries = InventoryFromWire(req.entries);
    ASSIGN_OR_RETURN(InventoryPageResult r, meta::ReportInventory(ctx_, args));
    resp.delete_chunks = std::move(r.delete_chunks);
    return Status();
  });
}

void MetaServiceHandler::Heartbeat(rpc::HeartbeatResponse& resp, const rpc::HeartbeatRequest& req) {
  Handle("Heartbeat", nullptr, Need::kServer, resp, [&](const Access&) -> Status {
    HeartbeatArgs args;
    args.server_id = req.server_id;
    args.capacity_bytes = req.capacity_bytes;
    args.used_bytes = req.used_bytes;
    args.chunk_count = req.chunk_count;
    args.deleted_chunks = req.deleted_chunks;
    args.session = req.__isset.session ? req.session : 0;
    if (req.__isset.bad_replicas) {
      for (const rpc::ChunkVersion& cv : req.bad_replicas) {
        args.bad_replicas.emplace_back(cv.chunk_id, cv.version);
      }
    }
    ASSIGN_OR_RETURN(HeartbeatResult r, meta::Heartbeat(ctx_, args));
    resp.delete_chunks = std::move(r.delete_chunks);
    resp.reregister = r.reregister;
    return Status();
  });
}

void MetaServiceHandler::CheckReplicas(rpc::CheckReplicasResponse& resp,
                                       const rpc::CheckReplicasRequest& req) {
  Handle("CheckReplicas", nullptr, Need::kServer, resp, [&](const Access&) -> Status {
    std::vector<ReplicaAgeItem> entries;
    entries.reserve(req.entries.size());
    for (const rpc::ReplicaAge& e : req.entries) {
      entries.push_back(ReplicaAgeItem{e.chunk_id, e.version, e.age_ms});
    }
    ASSIGN_OR_RETURN(CheckReplicasResult r,
                     meta::CheckReplicas(ctx_, req.server_id, req.session, entries));
    resp.unknown = r.unknown;
    resp.queued = r.queued;
    return Status();
  });
}

void MetaServiceHandler::Fsck(rpc::FsckResponse& resp, const rpc::FsckRequest& req) {
  Handle("Fsck", &req.ctx, Need::kAdmin, resp, [&](const Access&) -> Status {
    FsckArgs args;
    args.path = req.path;
    args.repair = req.repair;
    args.after_chunk_id = req.after_chunk_id;
    args.limit = req.limit;
    ASSIGN_OR_RETURN(FsckPage page, meta::Fsck(ctx_, args));
    for (const FsckChunkView& c : page.chunks) {
      rpc::FsckChunk out;
      out.chunk_id = c.chunk_id;
      out.inode = c.inode;
      out.index = c.index;
      out.version = c.version;
      out.length = c.length;
      out.goal = c.goal;
      out.good = c.good;
      out.paths = c.paths;
      out.problems = c.problems;
      for (const FsckReplicaView& v : c.replicas) {
        rpc::FsckReplica r;
        r.server_id = v.server_id;
        r.address = v.address;
        r.alive = v.alive;
        r.row_version = v.row_version;
        r.disk_version = v.disk_version;
        r.disk_length = v.disk_length;
        r.corrupt = v.corrupt;
        r.state = v.state;
        out.replicas.push_back(std::move(r));
      }
      resp.chunks.push_back(std::move(out));
    }
    for (const FsckOrphanView& o : page.orphans) {
      rpc::FsckOrphan out;
      out.server_id = o.server_id;
      out.chunk_id = o.chunk_id;
      out.version = o.version;
      out.length = o.length;
      out.age_ms = o.age_ms;
      out.known_chunk = o.known_chunk;
      out.queued = o.queued;
      if (o.held) out.__set_held(true);
      resp.orphans.push_back(out);
    }
    resp.chunks_checked = page.chunks_checked;
    resp.orphans_not_listed = page.orphans_not_listed;
    resp.servers_not_checked = page.servers_not_checked;
    resp.next_after_chunk_id = page.next_after_chunk_id;
    resp.more = page.more;
    resp.repair_actions = page.repair_actions;
    return Status();
  });
}

void MetaServiceHandler::ClusterStatus(rpc::ClusterStatusResponse& resp,
                                       const rpc::ClusterStatusRequest& req) {
  Handle("ClusterStatus", CtxOf(req), Need::kUser, resp, [&](const Access&) -> Status {
    ASSIGN_OR_RETURN(ClusterStatusResult r, meta::ClusterStatus(ctx_));
    for (const ServerStatusEntry& s : r.servers) {
      rpc::ServerStatus out;
      out.address.server_id = s.server_id;
      out.address.host = s.host;
      out.address.port = s.port;
      out.label = s.label;
      if (!s.rack.empty()) out.__set_rack(s.rack);
      out.alive = s.alive;
      out.capacity_bytes = s.capacity_bytes;
      out.used_bytes = s.used_bytes;
      out.chunks = s.chunks;
      out.last_heartbeat_ms_ago = s.last_heartbeat_ms_ago;
      if (s.draining) {
        out.__set_draining(true);
        out.__set_drain_chunks_left(s.drain_chunks_left);
      }
      resp.servers.push_back(std::move(out));
    }
    resp.files = r.counts.files;
    resp.directories = r.counts.directories;
    resp.chunks = r.counts.chunks;
    resp.chunks_under_goal = r.counts.chunks_under_goal;
    resp.chunks_missing = r.counts.chunks_missing;
    resp.pending_deletions = r.counts.pending_deletions;
    resp.logical_bytes = r.counts.logical_bytes;
    resp.chunks_over_goal = r.counts.chunks_over_goal;
    resp.repair_enabled = r.repair.enabled;
    resp.repair_copies_in_flight = r.repair.in_flight;
    resp.repair_chunks_copied = r.repair.copied;
    resp.repair_bytes_copied = r.repair.bytes_copied;
    resp.repair_bytes_per_s = r.repair.bytes_per_s;
    resp.repair_copies_failed = r.repair.failed;
    resp.repair_copies_discarded = r.repair.discarded;
    resp.repair_replicas_trimmed = r.repair.trimmed;
    resp.__set_repair_scans(r.repair.scans);
    resp.__set_held_replicas(r.counts.held_replicas);
    resp.__set_held_bytes(r.counts.held_bytes);
    resp.__set_chunk_retention_s(ctx_.chunk_retention_ms / 1000);
    resp.__set_rebalance_margin_pct(r.repair.rebalance_margin_pct);
    resp.__set_rebalance_gap_pct(r.repair.rebalance_gap_pct);
    resp.__set_rebalance_moves_in_flight(r.repair.rebalance_in_flight);
    resp.__set_rebalance_chunks_moved(r.repair.rebalanced);
    resp.__set_rebalance_bytes_moved(r.repair.bytes_rebalanced);
    resp.__set_rebalance_bytes_per_s(r.repair.rebalance_bytes_per_s);
    return Status();
  });
}

void MetaServiceHandler::GetGoal(rpc::GetGoalResponse& resp, const rpc::GetGoalRequest& req) {
  Handle("GetGoal", &req.ctx, Need::kUser, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    ASSIGN_OR_RETURN(GoalInfo g, meta::GetGoal(ctx_, req.inode));
    resp.goal = g.goal;
    resp.own_goal = g.own_goal;
    resp.source = g.source;
    resp.source_path = g.source_path;
    resp.source_tag = g.source_tag;
    resp.source_goal = g.source_goal;
    resp.tag_goal = g.tag_goal;
    return Status();
  });
}

void MetaServiceHandler::SetGoal(rpc::SetGoalResponse& resp, const rpc::SetGoalRequest& req) {
  Mutate("SetGoal", req.ctx, resp, [&](const Access& a) -> Status {
    RETURN_IF_ERROR(Confine(a, {req.inode}));
    if (!req.children) {
      ASSIGN_OR_RETURN(bool changed, meta::SetGoal(ctx_, a.caller, req.inode, req.goal));
      resp.changed = changed ? 1 : 0;
      return Status();
    }
    ASSIGN_OR_RETURN(
        GoalChildrenResult r,
        meta::SetChildrenGoal(ctx_, a.caller, req.inode, req.goal, req.after_name, req.limit));
    resp.changed = r.changed;
    resp.denied = r.denied;
    resp.directories.assign(r.directories.begin(), r.directories.end());
    resp.last_name = r.last_name;
    resp.more = r.more;
    return Status();
  });
  RepairAfter(resp.status, /*kick=*/resp.changed > 0);
}

void MetaServiceHandler::SetGoalRule(rpc::SetGoalRuleResponse& resp,
                                     const rpc::SetGoalRuleRequest& req) {
  Mutate("SetGoalRule", req.ctx, resp, [&](const Access& a) -> Status {
    // Rules are the whole cluster's: an admin connection acting as root
    // (as for tag rename).
    const bool admin = a.admin && a.caller.uid == 0;
    ASSIGN_OR_RETURN(resp.documents, meta::SetGoalRule(ctx_, admin, req.tag, req.goal));
    return Status();
  });
  RepairAfter(resp.status, /*kick=*/true);
}

void MetaServiceHandler::ListGoalRules(rpc::ListGoalRulesResponse& resp,
                                       const rpc::ListGoalRulesRequest& req) {
  Handle("ListGoalRules", &req.ctx, Need::kUser, resp, [&](const Access&) -> Status {
    ASSIGN_OR_RETURN(auto rules, meta::ListGoalRules(ctx_));
    for (auto& r : rules) {
      rpc::GoalRule out;
      out.tag = std::move(r.tag);
      out.goal = r.goal;
      out.documents = r.documents;
      resp.rules.push_back(std::move(out));
    }
    return Status();
  });
}

void MetaServiceHandler::DrainServer(rpc::DrainServerResponse& resp,
                                     const rpc::DrainServerRequest& req) {
  Handle("DrainServer", &req.ctx, Need::kAdmin, resp, [&](const Access&) -> Status {
    ASSIGN_OR_RETURN(resp.chunks_left, meta::DrainServer(ctx_, req.server_id, req.drain));
    return Status();
  });
}

void MetaServiceHandler::RemoveServer(rpc::RemoveServerResponse& resp,
                                      const rpc::RemoveServerRequest& req) {
  Handle("RemoveServer", &req.ctx, Need::kAdmin, resp,
         [&](const Access&) -> Status { return meta::RemoveServer(ctx_, req.server_id); });
}

rpc::Capability MetaServiceHandler::Sign(int64_t chunk_id, int64_t version, int32_t ops,
                                         std::vector<rpc::ServerAddress> chain) const {
  rpc::Capability cap;
  cap.chunk_id = chunk_id;
  cap.version = version;
  cap.ops = ops;
  cap.expires_ms = UnixNowMs() + security_.capability_ms;
  cap.chain = std::move(chain);
  security_.capabilities.Sign(&cap);
  return cap;
}

Result<bool> MetaServiceHandler::ReplicaConfirmedBad(int64_t chunk_id, int32_t server_id) {
  if (chunk_id <= 0 || server_id <= 0) return InvalidArgument("bad chunk or server id");
  std::optional<store::ChunkRecord> chunk;
  RETURN_IF_ERROR(ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(chunk, store::GetChunk(tx, chunk_id));
    return Status();
  }));
  if (!chunk) return NotFound("no chunk " + std::to_string(chunk_id));
  std::optional<ServerState> server = ctx_.servers.Get(server_id);
  if (!server || ctx_.settler == nullptr) return false;
  // A verification reads the whole replica: at most one per second per
  // connection, so reports cannot be used to load the chunk servers.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_verify_ < std::chrono::seconds(1)) {
    LOG(kInfo) << session_.Describe() << " reported chunk " << chunk_id
               << " bad again within a second: not verified, kept";
    return false;
  }
  last_verify_ = now;
  rpc::ChunkStateRequest req;
  req.chunk_id = chunk_id;
  req.__set_verify(true);
  rpc::ChunkStateResponse state;
  Status call = ctx_.settler->Pool(server->record.host, server->record.port)
                    .Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, req); });
  if (!call.ok()) return false;
  const Status answer = FromRpc(state.status);
  const bool bad =
      answer.code() == ErrorCode::kNotFound || answer.code() == ErrorCode::kChecksumMismatch ||
      answer.code() == ErrorCode::kIoError || (answer.ok() && state.version < chunk->version);
  if (!bad) {
    LOG(kInfo) << session_.Describe() << " reported the replica of chunk " << chunk_id
               << " on server " << server_id << " bad, but the server verified it ("
               << (answer.ok() ? "version " + std::to_string(state.version) : answer.ToString())
               << "): kept";
  }
  return bad;
}

void MetaServiceHandler::Hello(rpc::HelloResponse& resp, const rpc::HelloRequest&) {
  session_.Hello(security_, &resp);
}

void MetaServiceHandler::Authenticate(rpc::AuthenticateResponse& resp,
                                      const rpc::AuthenticateRequest& req) {
  session_.Authenticate(security_, req, &resp);
  if (resp.status.code != rpc::ErrorCode::OK) return;
  // A key limited to a subtree: its directory, found now (like an NFS
  // export's root handle, it stays the same directory if renamed).
  Result<Access> a = session_.Authorize(security_, nullptr);
  if (a.ok() && a->subtree != "/") {
    Result<Attr> root = meta::ResolvePath(ctx_, Caller{}, a->subtree);
    if (!root.ok() || root->type != FileType::kDirectory) {
      session_.Reset();
      resp.status = ToRpc(Status(ErrorCode::kUnauthenticated,
                                 "the subtree " + a->subtree + " of this key is not a directory (" +
                                     (root.ok() ? "a file" : root.status().message()) + ")"));
      return;
    }
    session_.set_root(root->inode);
  }
}

namespace {
// Confine() looks at up to this many inodes one by one.
constexpr size_t kConfineOneByOne = 64;
}  // namespace

Status MetaServiceHandler::Confine(const Access& a, std::initializer_list<int64_t> inodes) {
  return Confine(a, std::vector<int64_t>(inodes));
}

Status MetaServiceHandler::Confine(const Access& a, const std::vector<int64_t>& inodes) {
  if (a.root == kRootInode) return Status();
  if (inodes.size() > kConfineOneByOne) {
    // Many (a bulk tag): one statement per slice finds those with no way up
    // to the subtree; only they are looked at one by one (orphans).
    constexpr size_t kSlice = 10000;
    for (size_t from = 0; from < inodes.size(); from += kSlice) {
      const std::vector<int64_t> slice(
          inodes.begin() + static_cast<ptrdiff_t>(from),
          inodes.begin() + static_cast<ptrdiff_t>(std::min(inodes.size(), from + kSlice)));
      std::vector<int64_t> outside;
      RETURN_IF_ERROR(ctx_.reader.Run([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(outside, store::NotInSubtree(tx, slice, a.root, static_cast<int>(kSlice)));
        return Status();
      }));
      RETURN_IF_ERROR(ConfineOneByOne(a, outside));
    }
    return Status();
  }
  return ConfineOneByOne(a, inodes);
}

Status MetaServiceHandler::ConfineOneByOne(const Access& a, const std::vector<int64_t>& inodes) {
  for (int64_t inode : inodes) {
    if (inode == a.root || confined_.count(inode) > 0) continue;
    bool inside = false;
    RETURN_IF_ERROR(ctx_.reader.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(inside, store::IsInSubtree(tx, inode, a.root));
      if (inside) return Status();
      // An orphan has no name: it is inside if its last name was.
      ASSIGN_OR_RETURN(std::optional<store::OrphanRecord> orphan, store::GetOrphan(tx, inode));
      if (orphan) {
        ASSIGN_OR_RETURN(inside, store::IsInSubtree(tx, orphan->parent, a.root));
      }
      return Status();
    }));
    if (!inside) {
      return Status(ErrorCode::kPermissionDenied, "inode " + std::to_string(inode) +
                                                      " is outside " + a.subtree +
                                                      ", the only subtree this key reaches");
    }
    if (confined_.size() >= 4096) confined_.clear();
    confined_.insert(inode);
  }
  return Status();
}

void MetaServiceHandler::WhoAmI(rpc::WhoAmIResponse& resp, const rpc::WhoAmIRequest& req) {
  Handle("WhoAmI", CtxOf(req), Need::kUser, resp, [&](const Access& a) -> Status {
    resp.principal = a.principal;
    resp.uid = static_cast<int32_t>(a.caller.uid);
    resp.gid = static_cast<int32_t>(a.caller.gid);
    for (uint32_t g : a.caller.groups) resp.groups.push_back(static_cast<int32_t>(g));
    resp.read_only = a.read_only;
    resp.subtree = a.subtree;
    resp.admin = a.admin;
    return Status();
  });
}

namespace {

rpc::ExportKey KeyToWire(const store::ExportKeyRecord& k) {
  rpc::ExportKey out;
  out.key_id = k.key_id;
  out.name = k.name;
  out.networks = k.networks;
  out.read_only = k.read_only;
  out.subtree = k.subtree;
  out.identity = k.mapall ? "mapall" : "trusted";
  out.map_uid = static_cast<int32_t>(k.map_uid);
  out.map_gid = static_cast<int32_t>(k.map_gid);
  out.maproot_uid = static_cast<int32_t>(k.maproot_uid);
  out.maproot_gid = static_cast<int32_t>(k.maproot_gid);
  out.admin = k.admin;
  out.created_ms = k.created_ms;
  out.revoked = k.revoked_ms.has_value();
  return out;
}

Result<store::ExportKeyRecord> KeyFromWire(const rpc::ExportKey& k) {
  store::ExportKeyRecord out;
  if (k.name.empty() || k.name.size() > 200) {
    return InvalidArgument("a key needs a name of 1 to 200 bytes");
  }
  out.name = k.name;
  if (k.networks.size() > 64) return InvalidArgument("at most 64 networks per key");
  for (const std::string& n : k.networks) {
    RETURN_IF_ERROR(ValidateNetwork(n));
    out.networks.push_back(n);
  }
  out.read_only = k.read_only;
  out.subtree = k.subtree.empty() ? "/" : k.subtree;
  if (out.subtree != "/") {
    // An absolute, normalized path: no empty, "." or ".." components.
    bool ok = out.subtree[0] == '/' && out.subtree.back() != '/' && out.subtree.size() <= 4096;
    for (size_t b = 1; ok && b <= out.subtree.size();) {
      size_t e = out.subtree.find('/', b);
      if (e == std::string::npos) e = out.subtree.size();
      const std::string part = out.subtree.substr(b, e - b);
      ok = !part.empty() && part != "." && part != "..";
      b = e + 1;
    }
    if (!ok)
      return InvalidArgument("subtree '" + k.subtree + "' is not an absolute path like /a/b");
  }
  if (k.identity != "trusted" && k.identity != "mapall") {
    return InvalidArgument("identity must be 'trusted' or 'mapall', not '" + k.identity + "'");
  }
  out.mapall = k.identity == "mapall";
  for (int32_t id : {k.map_uid, k.map_gid, k.maproot_uid, k.maproot_gid}) {
    if (id < 0) return InvalidArgument("uids and gids must be >= 0");
  }
  out.map_uid = static_cast<uint32_t>(k.map_uid);
  out.map_gid = static_cast<uint32_t>(k.map_gid);
  out.maproot_uid = static_cast<uint32_t>(k.maproot_uid);
  out.maproot_gid = static_cast<uint32_t>(k.maproot_gid);
  out.admin = k.admin;
  return out;
}

}  // namespace

void MetaServiceHandler::AddKey(rpc::AddKeyResponse& resp, const rpc::AddKeyRequest& req) {
  Handle("AddKey", &req.ctx, Need::kAdmin, resp, [&](const Access& a) -> Status {
    if (security_.keys == nullptr) return Internal("no key registry");
    ASSIGN_OR_RETURN(store::ExportKeyRecord key, KeyFromWire(req.key));
    ASSIGN_OR_RETURN(store::ExportKeyRecord added, security_.keys->Add(std::move(key)));
    LOG(kInfo) << a.principal << " added export key " << added.key_id << " (" << added.name << ")";
    resp.key = KeyToWire(added);
    resp.secret = added.secret;
    return Status();
  });
}

void MetaServiceHandler::ListKeys(rpc::ListKeysResponse& resp, const rpc::ListKeysRequest& req) {
  Handle("ListKeys", &req.ctx, Need::kAdmin, resp, [&](const Access&) -> Status {
    if (security_.keys == nullptr) return Internal("no key registry");
    for (const auto& k : security_.keys->List()) resp.keys.push_back(KeyToWire(k));
    return Status();
  });
}

void MetaServiceHandler::RevokeKey(rpc::RevokeKeyResponse& resp, const rpc::RevokeKeyRequest& req) {
  Handle("RevokeKey", &req.ctx, Need::kAdmin, resp, [&](const Access& a) -> Status {
    if (security_.keys == nullptr) return Internal("no key registry");
    RETURN_IF_ERROR(security_.keys->Revoke(req.key_id));
    LOG(kInfo) << a.principal << " revoked export key " << req.key_id;
    return Status();
  });
}

rpc::MetaServiceIf* MetaServiceFactory::getHandler(const apache::thrift::TConnectionInfo& info) {
  return new MetaServiceHandler(ctx_, security_, PeerOf(info.transport), default_timeout_);
}

void MetaServiceFactory::releaseHandler(rpc::MetaServiceIf* handler) { delete handler; }

}  // namespace ddbfs::meta
