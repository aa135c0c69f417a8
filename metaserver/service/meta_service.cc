#include "metaserver/service/meta_service.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/server_ops.h"
#include "metaserver/service/convert.h"
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

template <typename Resp, typename F>
void MetaServiceHandler::Handle(const char* rpc_name, Resp& resp, F&& f) {
  store::DeadlineScope deadline(store::Clock::now() + default_timeout_);
  resp.status = ToRpc(Guarded(rpc_name, f));
}

template <typename Resp, typename F>
void MetaServiceHandler::Mutate(const char* rpc_name, const rpc::RequestContext& rc, Resp& resp,
                                F&& f) {
  const store::Deadline deadline = DeadlineOf(rc);
  if (!rc.__isset.client_id) {
    store::DeadlineScope scope(deadline);
    resp.status = ToRpc(Guarded(rpc_name, f));
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
    return Guarded(rpc_name, f);
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

}  // namespace

void MetaServiceHandler::Lookup(rpc::LookupResponse& resp, const rpc::LookupRequest& req) {
  Handle("Lookup", resp,
         [&] { return Fill(meta::Lookup(ctx_, req.parent, req.name), &resp.attr, kAttr); });
}

void MetaServiceHandler::ResolvePath(rpc::ResolvePathResponse& resp,
                                     const rpc::ResolvePathRequest& req) {
  Handle("ResolvePath", resp,
         [&] { return Fill(meta::ResolvePath(ctx_, req.path), &resp.attr, kAttr); });
}

void MetaServiceHandler::GetAttr(rpc::GetAttrResponse& resp, const rpc::GetAttrRequest& req) {
  Handle("GetAttr", resp, [&] { return Fill(meta::GetAttr(ctx_, req.inode), &resp.attr, kAttr); });
}

void MetaServiceHandler::SetAttr(rpc::SetAttrResponse& resp, const rpc::SetAttrRequest& req) {
  Mutate("SetAttr", req.ctx, resp, [&]() -> Status {
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
    return Fill(meta::SetAttr(ctx_, FromWire(req.ctx), req.inode, c), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Mkdir(rpc::MkdirResponse& resp, const rpc::MkdirRequest& req) {
  Mutate("Mkdir", req.ctx, resp, [&] {
    return Fill(
        meta::Mkdir(ctx_, FromWire(req.ctx), req.parent, req.name, static_cast<uint32_t>(req.mode)),
        &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Create(rpc::CreateResponse& resp, const rpc::CreateRequest& req) {
  Mutate("Create", req.ctx, resp, [&]() -> Status {
    std::optional<int> goal;
    if (req.__isset.goal) goal = req.goal;
    std::optional<int64_t> mtime;
    if (req.__isset.mtime_ns) mtime = req.mtime_ns;
    const auto mode = static_cast<uint32_t>(req.mode);
    if (!req.prepare_first_chunk) {
      return Fill(meta::Create(ctx_, FromWire(req.ctx), req.parent, req.name, mode, goal, mtime),
                  &resp.attr, kAttr);
    }
    ASSIGN_OR_RETURN(CreateOutcome f, meta::CreateForWrite(ctx_, FromWire(req.ctx), req.parent,
                                                           req.name, mode, goal, mtime));
    resp.attr = ToWire(f.attr);
    if (f.first_chunk) resp.__set_first_chunk(ToWire(0, *f.first_chunk));
    return Status();
  });
}

void MetaServiceHandler::Symlink(rpc::SymlinkResponse& resp, const rpc::SymlinkRequest& req) {
  Mutate("Symlink", req.ctx, resp, [&] {
    return Fill(meta::Symlink(ctx_, FromWire(req.ctx), req.parent, req.name, req.target),
                &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Readlink(rpc::ReadlinkResponse& resp, const rpc::ReadlinkRequest& req) {
  Handle("Readlink", resp, [&] {
    return Fill(meta::Readlink(ctx_, req.inode), &resp.target,
                [](const std::string& t) { return t; });
  });
}

void MetaServiceHandler::Link(rpc::LinkResponse& resp, const rpc::LinkRequest& req) {
  Mutate("Link", req.ctx, resp, [&] {
    return Fill(meta::Link(ctx_, FromWire(req.ctx), req.inode, req.new_parent, req.new_name),
                &resp.attr, kAttr);
  });
}

void MetaServiceHandler::Unlink(rpc::UnlinkResponse& resp, const rpc::UnlinkRequest& req) {
  Mutate("Unlink", req.ctx, resp,
         [&] { return meta::Unlink(ctx_, FromWire(req.ctx), req.parent, req.name); });
}

void MetaServiceHandler::Rmdir(rpc::RmdirResponse& resp, const rpc::RmdirRequest& req) {
  Mutate("Rmdir", req.ctx, resp,
         [&] { return meta::Rmdir(ctx_, FromWire(req.ctx), req.parent, req.name); });
}

void MetaServiceHandler::Rename(rpc::RenameResponse& resp, const rpc::RenameRequest& req) {
  Mutate("Rename", req.ctx, resp, [&] {
    return meta::Rename(ctx_, FromWire(req.ctx), req.parent, req.name, req.new_parent, req.new_name,
                        req.flags);
  });
}

void MetaServiceHandler::ReadDir(rpc::ReadDirResponse& resp, const rpc::ReadDirRequest& req) {
  Handle("ReadDir", resp, [&]() -> Status {
    ASSIGN_OR_RETURN(DirPage page, meta::ReadDir(ctx_, req.inode, req.after_name, req.limit));
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
  Handle("GetChunks", resp, [&]() -> Status {
    ASSIGN_OR_RETURN(ChunkMapView map, meta::GetChunks(ctx_, req.inode, req.first_index, req.count,
                                                       req.all_replicas));
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
      resp.chunks.push_back(std::move(info));
    }
    return Status();
  });
}

void MetaServiceHandler::PrepareWrite(rpc::PrepareWriteResponse& resp,
                                      const rpc::PrepareWriteRequest& req) {
  Mutate("PrepareWrite", req.ctx, resp, [&]() -> Status {
    ASSIGN_OR_RETURN(WritePlan plan, meta::PrepareWrite(ctx_, req.inode, req.index));
    rpc::ChunkPlacement p = ToWire(req.index, plan);
    resp.chunk_id = p.chunk_id;
    resp.version = p.version;
    resp.length = p.length;
    resp.replicas = std::move(p.replicas);
    resp.lease_id = p.lease_id;
    resp.lease_ms = p.lease_ms;
    resp.goal = plan.goal;
    return Status();
  });
}

void MetaServiceHandler::CommitWrite(rpc::CommitWriteResponse& resp,
                                     const rpc::CommitWriteRequest& req) {
  Mutate("CommitWrite", req.ctx, resp, [&] {
    std::vector<ChunkCommitArgs> chunks;
    for (const rpc::ChunkCommit& c : req.chunks) {
      chunks.push_back(
          ChunkCommitArgs{c.index, c.chunk_id, c.version, c.length, c.written, c.lease_id});
    }
    std::optional<int64_t> mtime;
    if (req.__isset.mtime_ns) mtime = req.mtime_ns;
    return Fill(meta::CommitWrite(ctx_, req.inode, chunks, req.size, mtime), &resp.attr, kAttr);
  });
}

void MetaServiceHandler::ReportBadReplica(rpc::ReportBadReplicaResponse& resp,
                                          const rpc::ReportBadReplicaRequest& req) {
  Handle("ReportBadReplica", resp, [&] {
    return meta::ReportBadReplica(ctx_, req.chunk_id, req.server_id,
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
  Mutate("RenewLease", req.ctx, resp, [&]() -> Status {
    ASSIGN_OR_RETURN(resp.lease_ms, meta::RenewLeases(ctx_, req.inode, FromWire(req.leases)));
    return Status();
  });
}

void MetaServiceHandler::ReleaseLease(rpc::ReleaseLeaseResponse& resp,
                                      const rpc::ReleaseLeaseRequest& req) {
  Mutate("ReleaseLease", req.ctx, resp,
         [&] { return meta::ReleaseLeases(ctx_, req.inode, FromWire(req.leases)); });
}

void MetaServiceHandler::RecoverWrite(rpc::RecoverWriteResponse& resp,
                                      const rpc::RecoverWriteRequest& req) {
  Mutate("RecoverWrite", req.ctx, resp, [&]() -> Status {
    RecoverArgs args{req.inode,   req.index, req.chunk_id, req.lease_id,
                     req.version, req.good,  req.failed};
    ASSIGN_OR_RETURN(RecoverPlan plan, meta::RecoverWrite(ctx_, args));
    resp.version = plan.version;
    for (const ServerAddr& a : plan.good) resp.good.push_back(ToWire(a));
    for (const ServerAddr& a : plan.added) resp.added.push_back(ToWire(a));
    return Status();
  });
}

void MetaServiceHandler::RegisterServer(rpc::RegisterServerResponse& resp,
                                        const rpc::RegisterServerRequest& req) {
  Handle("RegisterServer", resp, [&]() -> Status {
    RegisterArgs args;
    args.host = req.host;
    args.port = req.port;
    args.label = req.label;
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
  Handle("ReportInventory", resp, [&]() -> Status {
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
  Handle("Heartbeat", resp, [&]() -> Status {
    HeartbeatArgs args{req.server_id,   req.capacity_bytes, req.used_bytes,
                       req.chunk_count, req.deleted_chunks, req.__isset.session ? req.session : 0};
    ASSIGN_OR_RETURN(HeartbeatResult r, meta::Heartbeat(ctx_, args));
    resp.delete_chunks = std::move(r.delete_chunks);
    resp.reregister = r.reregister;
    return Status();
  });
}

void MetaServiceHandler::ClusterStatus(rpc::ClusterStatusResponse& resp,
                                       const rpc::ClusterStatusRequest&) {
  Handle("ClusterStatus", resp, [&]() -> Status {
    ASSIGN_OR_RETURN(ClusterStatusResult r, meta::ClusterStatus(ctx_));
    for (const ServerStatusEntry& s : r.servers) {
      rpc::ServerStatus out;
      out.address.server_id = s.server_id;
      out.address.host = s.host;
      out.address.port = s.port;
      out.label = s.label;
      out.alive = s.alive;
      out.capacity_bytes = s.capacity_bytes;
      out.used_bytes = s.used_bytes;
      out.chunks = s.chunks;
      out.last_heartbeat_ms_ago = s.last_heartbeat_ms_ago;
      resp.servers.push_back(std::move(out));
    }
    resp.files = r.counts.files;
    resp.directories = r.counts.directories;
    resp.chunks = r.counts.chunks;
    resp.chunks_under_goal = r.counts.chunks_under_goal;
    resp.chunks_missing = r.counts.chunks_missing;
    resp.pending_deletions = r.counts.pending_deletions;
    resp.logical_bytes = r.counts.logical_bytes;
    return Status();
  });
}

}  // namespace ddbfs::meta
