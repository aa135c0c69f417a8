#pragma once

#include "MetaService.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

// The Thrift MetaService: converts each request, forwards it to the ops
// layer, converts the answer. Application errors travel in `status`; an
// unexpected exception becomes INTERNAL (the server never dies of a request).
// Thread-safe (one instance serves every connection).
class MetaServiceHandler : public rpc::MetaServiceIf {
 public:
  explicit MetaServiceHandler(OpContext& ctx) : ctx_(ctx) {}

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
  void RegisterServer(rpc::RegisterServerResponse& resp,
                      const rpc::RegisterServerRequest& req) override;
  void Heartbeat(rpc::HeartbeatResponse& resp, const rpc::HeartbeatRequest& req) override;
  void ClusterStatus(rpc::ClusterStatusResponse& resp,
                     const rpc::ClusterStatusRequest& req) override;

 private:
  OpContext& ctx_;
};

}  // namespace ddbfs::meta
