#include "chunk_connection.h"

#include <chrono>

#include "ddbfs/log.h"

namespace ddbfs::chunkserver {

namespace {

bool SameServer(const rpc::ServerAddress& a, const rpc::ServerAddress& b) {
  return a.server_id == b.server_id && a.host == b.host && a.port == b.port;
}

// Answers a request refused before it ran (write/truncate carry `replicas`).
template <typename Resp>
void Refuse(Resp& resp, const Status& s) {
  resp.status = ToRpc(s);
}

}  // namespace

Status ChunkConnection::RequireCluster(const char* rpc_name) const {
  if (cluster_) return Status();
  return Status(ErrorCode::kUnauthenticated,
                std::string(rpc_name) + " is only served to cluster members (authenticate " +
                    "with the cluster key first)");
}

Status ChunkConnection::CheckWrite(bool has_cap, const rpc::Capability& cap, int64_t chunk_id,
                                   int64_t version,
                                   const std::vector<rpc::ServerAddress>& chain) const {
  if (!has_cap) {
    return Status(ErrorCode::kPermissionDenied,
                  "a write needs a capability from the metaserver (none was sent)");
  }
  const ChunkAuth& auth = service_->auth();
  RETURN_IF_ERROR(
      auth.capabilities.Check(cap, chunk_id, version, kCapWrite, UnixNowMs(), auth.skew_ms));
  size_t i = 0;
  while (i < cap.chain.size() && !service_->IsSelf(cap.chain[i])) ++i;
  if (i == cap.chain.size()) {
    return Status(ErrorCode::kPermissionDenied,
                  "capability refused: its chain does not name this server (id " +
                      std::to_string(service_->server_id()) + ")");
  }
  // The forwarding chain: members of the capability's chain after this
  // server, in its order (members that failed may be left out).
  size_t k = i + 1;
  for (const rpc::ServerAddress& next : chain) {
    while (k < cap.chain.size() && !SameServer(next, cap.chain[k])) ++k;
    if (k == cap.chain.size()) {
      return Status(ErrorCode::kPermissionDenied,
                    "the request's forwarding chain names " + FormatAddress(next.host, next.port) +
                        ", which its capability does not allow after this server");
    }
    ++k;
  }
  return Status();
}

// Checks a chained request (write or truncate) and runs it, or answers the
// refusal as this server's own result.
template <typename Req, typename Resp>
void ChunkConnection::Chained(const char* op, const Req& req, Resp& resp,
                              void (ChunkService::*run)(Resp&, const Req&)) {
  Status s = CheckWrite(req.__isset.cap, req.cap, req.chunk_id, req.version, req.chain);
  if (!s.ok()) {
    LOG(kWarn) << "refused a " << op << " of chunk " << req.chunk_id << " from "
               << (peer_.unix_socket ? "a local process" : peer_.address) << ": " << s;
    resp.status = ToRpc(s);
    rpc::ReplicaResult own;
    own.server_id = service_->server_id();
    own.status = resp.status;
    resp.replicas = {own};
    return;
  }
  ((*service_).*run)(resp, req);
}

void ChunkConnection::WriteChunk(rpc::WriteChunkResponse& resp, const rpc::WriteChunkRequest& req) {
  Chained("write", req, resp, &ChunkService::WriteChunk);
}

void ChunkConnection::TruncateChunk(rpc::TruncateChunkResponse& resp,
                                    const rpc::TruncateChunkRequest& req) {
  Chained("truncate", req, resp, &ChunkService::TruncateChunk);
}

void ChunkConnection::ReadChunk(rpc::ReadChunkResponse& resp, const rpc::ReadChunkRequest& req) {
  if (!cluster_) {
    if (!req.__isset.cap) {
      return Refuse(resp, Status(ErrorCode::kPermissionDenied,
                                 "a read needs a capability from the metaserver (none was sent)"));
    }
    const ChunkAuth& auth = service_->auth();
    Status s = auth.capabilities.Check(req.cap, req.chunk_id, req.version, kCapRead, UnixNowMs(),
                                       auth.skew_ms);
    if (!s.ok()) return Refuse(resp, s);
  }
  service_->ReadChunk(resp, req);
}

void ChunkConnection::ChunkState(rpc::ChunkStateResponse& resp, const rpc::ChunkStateRequest& req) {
  if (Status s = RequireCluster("ChunkState"); !s.ok()) return Refuse(resp, s);
  service_->ChunkState(resp, req);
}

void ChunkConnection::SetChunkVersion(rpc::SetChunkVersionResponse& resp,
                                      const rpc::SetChunkVersionRequest& req) {
  if (Status s = RequireCluster("SetChunkVersion"); !s.ok()) return Refuse(resp, s);
  service_->SetChunkVersion(resp, req);
}

void ChunkConnection::ReplicateChunk(rpc::ReplicateChunkResponse& resp,
                                     const rpc::ReplicateChunkRequest& req) {
  if (!cluster_) {
    // A writer's pipeline recovery: the capability of the new version must
    // name this server and the source.
    Status s = CheckWrite(req.__isset.cap, req.cap, req.chunk_id, req.version, {});
    bool source_named = false;
    for (const auto& a : req.cap.chain) source_named = source_named || SameServer(a, req.source);
    if (s.ok() && !source_named) {
      s = Status(ErrorCode::kPermissionDenied,
                 "the copy's source is not in its capability's chain");
    }
    if (!s.ok()) {
      LOG(kWarn) << "refused a copy of chunk " << req.chunk_id << ": " << s;
      return Refuse(resp, s);
    }
    if (req.__isset.max_bytes_per_s) {
      // Pacing is the repair's (a cluster member): a writer's recovery copy
      // runs at full speed.
      rpc::ReplicateChunkRequest unpaced = req;
      unpaced.__isset.max_bytes_per_s = false;
      unpaced.max_bytes_per_s = 0;
      return service_->ReplicateChunk(resp, unpaced);
    }
  }
  service_->ReplicateChunk(resp, req);
}

void ChunkConnection::Info(rpc::ChunkServerInfoResponse& resp,
                           const rpc::ChunkServerInfoRequest& req) {
  if (Status s = RequireCluster("Info"); !s.ok()) return Refuse(resp, s);
  service_->Info(resp, req);
}

void ChunkConnection::ListReplicas(rpc::ListReplicasResponse& resp,
                                   const rpc::ListReplicasRequest& req) {
  if (Status s = RequireCluster("ListReplicas"); !s.ok()) return Refuse(resp, s);
  service_->ListReplicas(resp, req);
}

void ChunkConnection::HashChunk(rpc::HashChunkResponse& resp, const rpc::HashChunkRequest& req) {
  if (Status s = RequireCluster("HashChunk"); !s.ok()) return Refuse(resp, s);
  service_->HashChunk(resp, req);
}

void ChunkConnection::Hello(rpc::HelloResponse& resp, const rpc::HelloRequest&) {
  resp.status = RpcOk();
  resp.nonce = handshake_.Hello();
  resp.authenticated = cluster_;
  if (cluster_) resp.principal = std::string(kClusterKeyId);
}

void ChunkConnection::Authenticate(rpc::AuthenticateResponse& resp,
                                   const rpc::AuthenticateRequest& req) {
  Status s;
  if (req.key_id != kClusterKeyId) {
    s = Status(ErrorCode::kUnauthenticated,
               "a chunk server knows only the cluster key, not '" + req.key_id + "'");
  } else {
    s = handshake_.Verify(req, "chunk", service_->auth().cluster_secret, &resp.server_proof);
  }
  if (!s.ok()) {
    LOG(kWarn) << "authentication from " << (peer_.unix_socket ? "a local process" : peer_.address)
               << " refused: " << s;
    resp.status = ToRpc(s);
    return;
  }
  cluster_ = true;
  resp.status = RpcOk();
  resp.principal = std::string(kClusterKeyId);
}

rpc::ChunkServiceIf* ChunkConnectionFactory::getHandler(
    const apache::thrift::TConnectionInfo& info) {
  return new ChunkConnection(service_, PeerOf(info.transport));
}

void ChunkConnectionFactory::releaseHandler(rpc::ChunkServiceIf* handler) { delete handler; }

}  // namespace ddbfs::chunkserver
