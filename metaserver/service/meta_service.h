#pragma once

#include <chrono>

#include "MetaService.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/store/request_scope.h"

namespace ddbfs::meta {

// The Thrift MetaService: converts each request, forwards it to the ops
// layer, converts the answer. Application errors travel in `status`; an
// unexpected exception becomes INTERNAL (the server never dies of a request).
// Every request has a deadline: its RequestContext.timeout_ms from receipt,
// else `default_timeout`. Mutations that carry a request id run exactly once
// (Mutate; docs/metadata.md, "Exactly-once mutations").
// Thread-safe (one instance serves every connection).
class MetaServiceHandler : public rpc::MetaServiceIf {
 public:
  explicit MetaServiceHandler(OpContext& ctx,
                              std::chrono::milliseconds default_timeout = std::chrono::seconds(30))
      : ctx_(ctx), default_timeout_(default_timeout) {}

  void Lookup(rpc::LookupResponse& resp, const rpc::LookupRequest& req) override;
  void ResolvePath(rpc::ResolvePathResponse& resp, const rpc::ResolvePathRequest& req) override;
  void GetAttr(rpc::GetAttrResponse& resp, const rpc::GetAttrRequest& req) override;
  void SetAttr(rpc::SetAttrResponse& resp, const rpc::SetAttrRequest& req) override;
  void Mkdir(rpc::MkdirResponse& resp, const rpc::MkdirRequest& req) override;
  void Create(rpc::CreateResponse& resp, const rpc::CreateRequest& req) override;
  void Symlink(rpc::SymlinkResponse& resp, const rpc::SymlinkRequest& req) override;
  void Readlink(rpc::ReadlinkResponse& resp, const rpc::ReadlinkRequest& req) override;
  void Link(rpc::LinkResponse& resp, const rpc::LinkRequest& req) override;
  void Unlink(rpc::UnlinkResponse& resp, const rpc::UnlinkRequest& req) override;
  void Rmdir(rpc::RmdirResponse& resp, const rpc::RmdirRequest& req) override;
  void Rename(rpc::RenameResponse& resp, const rpc::RenameRequest& req) override;
  void ReadDir(rpc::ReadDirResponse& resp, const rpc::ReadDirRequest& req) override;
  void GetChunks(rpc::GetChunksResponse& resp, const rpc::GetChunksRequest& req) override;
  void PrepareWrite(rpc::PrepareWriteResponse& resp, const rpc::PrepareWriteRequest& req) override;
  void CommitWrite(rpc::CommitWriteResponse& resp, const rpc::CommitWriteRequest& req) override;
  void ReportBadReplica(rpc::ReportBadReplicaResponse& resp,
                        const rpc::ReportBadReplicaRequest& req) override;
  void RenewLease(rpc::RenewLeaseResponse& resp, const rpc::RenewLeaseRequest& req) override;
  void ReleaseLease(rpc::ReleaseLeaseResponse& resp, const rpc::ReleaseLeaseRequest& req) override;
  void RecoverWrite(rpc::RecoverWriteResponse& resp, const rpc::RecoverWriteRequest& req) override;
  void RegisterServer(rpc::RegisterServerResponse& resp,
                      const rpc::RegisterServerRequest& req) override;
  void ReportInventory(rpc::ReportInventoryResponse& resp,
                       const rpc::ReportInventoryRequest& req) override;
  void Heartbeat(rpc::HeartbeatResponse& resp, const rpc::HeartbeatRequest& req) override;
  void ClusterStatus(rpc::ClusterStatusResponse& resp,
                     const rpc::ClusterStatusRequest& req) override;

 private:
  // Runs one request under the server's default deadline: f() returns the
  // Status that becomes resp.status.
  template <typename Resp, typename F>
  void Handle(const char* rpc_name, Resp& resp, F&& f);
  // Runs one mutation: like Handle, with the deadline of `rc`; when `rc`
  // carries a request id, f() runs as one exactly-once op on the writer
  // (WriteQueue::RunOnce): its writes join one transaction, the whole
  // response is recorded with them, and a retry gets that response back.
  template <typename Resp, typename F>
  void Mutate(const char* rpc_name, const rpc::RequestContext& rc, Resp& resp, F&& f);
  store::Deadline DeadlineOf(const rpc::RequestContext& rc) const;

  OpContext& ctx_;
  const std::chrono::milliseconds default_timeout_;
};

}  // namespace ddbfs::meta
