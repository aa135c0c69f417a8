#pragma once

#include <chrono>
#include <initializer_list>
#include <set>

#include "MetaService.h"
#include "ddbfs/rpc_server.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/service/security.h"
#include "metaserver/store/request_scope.h"

namespace ddbfs::meta {

// The Thrift MetaService: converts each request, forwards it to the ops
// layer, converts the answer. Application errors travel in `status`; an
// unexpected exception becomes INTERNAL (the server never dies of a request).
// Every request has a deadline: its RequestContext.timeout_ms from receipt,
// else `default_timeout`. Mutations that carry a request id run exactly once
// (Mutate; docs/metadata.md, "Exactly-once mutations").
//
// One instance per connection (MetaServiceFactory): it holds the
// connection's Session, and every request is authorized against it before it
// runs (docs/security.md). Called by that connection's thread only.
class MetaServiceHandler : public rpc::MetaServiceIf {
 public:
  MetaServiceHandler(OpContext& ctx, const MetaSecurity& security, PeerInfo peer,
                     std::chrono::milliseconds default_timeout = std::chrono::seconds(30))
      : ctx_(ctx),
        security_(security),
        session_(std::move(peer)),
        default_timeout_(default_timeout) {}

  void Lookup(rpc::LookupResponse& resp, const rpc::LookupRequest& req) override;
  void ResolvePath(rpc::ResolvePathResponse& resp, const rpc::ResolvePathRequest& req) override;
  void GetAttr(rpc::GetAttrResponse& resp, const rpc::GetAttrRequest& req) override;
  void SetAttr(rpc::SetAttrResponse& resp, const rpc::SetAttrRequest& req) override;
  void UpdateAtime(rpc::UpdateAtimeResponse& resp, const rpc::UpdateAtimeRequest& req) override;
  void SetTags(rpc::SetTagsResponse& resp, const rpc::SetTagsRequest& req) override;
  void GetTags(rpc::GetTagsResponse& resp, const rpc::GetTagsRequest& req) override;
  void Query(rpc::QueryResponse& resp, const rpc::QueryRequest& req) override;
  void SaveQuery(rpc::SaveQueryResponse& resp, const rpc::SaveQueryRequest& req) override;
  void DeleteQuery(rpc::DeleteQueryResponse& resp, const rpc::DeleteQueryRequest& req) override;
  void ListQueries(rpc::ListQueriesResponse& resp, const rpc::ListQueriesRequest& req) override;
  void ListTags(rpc::ListTagsResponse& resp, const rpc::ListTagsRequest& req) override;
  void TagMany(rpc::TagManyResponse& resp, const rpc::TagManyRequest& req) override;
  void TagAdmin(rpc::TagAdminResponse& resp, const rpc::TagAdminRequest& req) override;
  void ListImplications(rpc::ListImplicationsResponse& resp,
                        const rpc::ListImplicationsRequest& req) override;
  void Mkdir(rpc::MkdirResponse& resp, const rpc::MkdirRequest& req) override;
  void Create(rpc::CreateResponse& resp, const rpc::CreateRequest& req) override;
  void Symlink(rpc::SymlinkResponse& resp, const rpc::SymlinkRequest& req) override;
  void Readlink(rpc::ReadlinkResponse& resp, const rpc::ReadlinkRequest& req) override;
  void Mknod(rpc::MknodResponse& resp, const rpc::MknodRequest& req) override;
  void GetXattr(rpc::GetXattrResponse& resp, const rpc::GetXattrRequest& req) override;
  void ListXattr(rpc::ListXattrResponse& resp, const rpc::ListXattrRequest& req) override;
  void SetXattr(rpc::SetXattrResponse& resp, const rpc::SetXattrRequest& req) override;
  void RemoveXattr(rpc::RemoveXattrResponse& resp, const rpc::RemoveXattrRequest& req) override;
  void Link(rpc::LinkResponse& resp, const rpc::LinkRequest& req) override;
  void Unlink(rpc::UnlinkResponse& resp, const rpc::UnlinkRequest& req) override;
  void Rmdir(rpc::RmdirResponse& resp, const rpc::RmdirRequest& req) override;
  void Rename(rpc::RenameResponse& resp, const rpc::RenameRequest& req) override;
  void ReadDir(rpc::ReadDirResponse& resp, const rpc::ReadDirRequest& req) override;
  void GetChunks(rpc::GetChunksResponse& resp, const rpc::GetChunksRequest& req) override;
  void PrepareWrite(rpc::PrepareWriteResponse& resp, const rpc::PrepareWriteRequest& req) override;
  void CommitWrite(rpc::CommitWriteResponse& resp, const rpc::CommitWriteRequest& req) override;
  void CheckReplicas(rpc::CheckReplicasResponse& resp,
                     const rpc::CheckReplicasRequest& req) override;
  void Fsck(rpc::FsckResponse& resp, const rpc::FsckRequest& req) override;
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
  void Hello(rpc::HelloResponse& resp, const rpc::HelloRequest& req) override;
  void Authenticate(rpc::AuthenticateResponse& resp, const rpc::AuthenticateRequest& req) override;
  void WhoAmI(rpc::WhoAmIResponse& resp, const rpc::WhoAmIRequest& req) override;
  void AddKey(rpc::AddKeyResponse& resp, const rpc::AddKeyRequest& req) override;
  void ListKeys(rpc::ListKeysResponse& resp, const rpc::ListKeysRequest& req) override;
  void RevokeKey(rpc::RevokeKeyResponse& resp, const rpc::RevokeKeyRequest& req) override;
  void OpenSession(rpc::OpenSessionResponse& resp, const rpc::OpenSessionRequest& req) override;
  void RenewSession(rpc::RenewSessionResponse& resp, const rpc::RenewSessionRequest& req) override;
  void CloseSession(rpc::CloseSessionResponse& resp, const rpc::CloseSessionRequest& req) override;
  void ReleaseOrphan(rpc::ReleaseOrphanResponse& resp,
                     const rpc::ReleaseOrphanRequest& req) override;
  void UpdateOpenFiles(rpc::UpdateOpenFilesResponse& resp,
                       const rpc::UpdateOpenFilesRequest& req) override;
  void GetContentHash(rpc::GetContentHashResponse& resp,
                      const rpc::GetContentHashRequest& req) override;
  void FindDuplicates(rpc::FindDuplicatesResponse& resp,
                      const rpc::FindDuplicatesRequest& req) override;
  void GetGoal(rpc::GetGoalResponse& resp, const rpc::GetGoalRequest& req) override;
  void SetGoal(rpc::SetGoalResponse& resp, const rpc::SetGoalRequest& req) override;
  void SetGoalRule(rpc::SetGoalRuleResponse& resp, const rpc::SetGoalRuleRequest& req) override;
  void ListGoalRules(rpc::ListGoalRulesResponse& resp,
                     const rpc::ListGoalRulesRequest& req) override;
  void DrainServer(rpc::DrainServerResponse& resp, const rpc::DrainServerRequest& req) override;
  void RemoveServer(rpc::RemoveServerResponse& resp, const rpc::RemoveServerRequest& req) override;

 private:
  // Who may make a request.
  enum class Need { kUser, kServer, kAdmin };
  // Runs one request under the server's default deadline once the session
  // allows it (`rc` may be null): f(access) returns the Status that becomes
  // resp.status.
  template <typename Resp, typename F>
  void Handle(const char* rpc_name, const rpc::RequestContext* rc, Need need, Resp& resp, F&& f);
  // Runs one mutation: like Handle (any authenticated user; refused with
  // READ_ONLY under a read-only export), with the deadline of `rc`; when
  // `rc` carries a request id, f() runs as one exactly-once op on the writer
  // (WriteQueue::RunOnce): its writes join one transaction, the whole
  // response is recorded with them, and a retry gets that response back.
  // `on_writer` false: f() never runs as one op on the writer, even with a
  // request id (a bulk change runs beside the writer, and is idempotent).
  template <typename Resp, typename F>
  void Mutate(const char* rpc_name, const rpc::RequestContext& rc, Resp& resp, F&& f,
              bool on_writer = true);
  store::Deadline DeadlineOf(const rpc::RequestContext& rc) const;
  // After a mutation that may move chunks off their goal (a write, a goal,
  // tag or rule change) succeeded: the repair looks, now (`kick`) or at its
  // next interval. Called once Mutate returned, that is after the commit,
  // so the repair's pass sees it (docs/repair.md, "A pass").
  void RepairAfter(const rpc::RpcStatus& status, bool kick);
  // OK while this metaserver serves (OpContext::check_active): every
  // request is refused with its status otherwise (docs/ha.md).
  Status Active() const;
  // The session's Access for `rc`, if it may make a request that needs `need`.
  Result<Access> Authorize(const char* rpc_name, const rpc::RequestContext* rc, Need need) const;
  // A capability for `ops` on chunk_id at version, valid from now for
  // security_.capability_ms, signed with the cluster's capability key.
  rpc::Capability Sign(int64_t chunk_id, int64_t version, int32_t ops,
                       std::vector<rpc::ServerAddress> chain) const;
  // ReportBadReplica from a client: asks the server holding the replica to
  // verify it (every block's CRC, its version); true when it is missing,
  // corrupt or older than the committed version. Unreachable: false (the
  // heartbeat timeout deals with dead servers).
  Result<bool> ReplicaConfirmedBad(int64_t chunk_id, int32_t server_id);

  // OK when every inode lies in the subtree the connection's key reaches
  // (always, for principals that reach everything).
  Status Confine(const Access& a, std::initializer_list<int64_t> inodes);
  Status Confine(const Access& a, const std::vector<int64_t>& inodes);
  Status ConfineOneByOne(const Access& a, const std::vector<int64_t>& inodes);

  OpContext& ctx_;
  const MetaSecurity& security_;
  Session session_;
  std::set<int64_t> confined_;                           // inodes found inside the key's subtree
  std::chrono::steady_clock::time_point last_verify_{};  // ReplicaConfirmedBad
  const std::chrono::milliseconds default_timeout_;
};

// Makes a MetaServiceHandler for every accepted connection.
class MetaServiceFactory : public rpc::MetaServiceIfFactory {
 public:
  MetaServiceFactory(OpContext& ctx, const MetaSecurity& security,
                     std::chrono::milliseconds default_timeout)
      : ctx_(ctx), security_(security), default_timeout_(default_timeout) {}
  rpc::MetaServiceIf* getHandler(const apache::thrift::TConnectionInfo& info) override;
  void releaseHandler(rpc::MetaServiceIf* handler) override;

 private:
  OpContext& ctx_;
  const MetaSecurity& security_;
  const std::chrono::milliseconds default_timeout_;
};

}  // namespace ddbfs::meta
