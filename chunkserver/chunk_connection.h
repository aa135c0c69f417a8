#pragma once

// One client or peer connection to a chunk server (docs/security.md): what
// it authenticated as, and the checks every request passes before the
// shared ChunkService runs it.
//  - ReadChunk needs a CAP_READ capability for the chunk and version, or a
//    connection authenticated with the cluster key (a peer copying a chunk).
//  - WriteChunk and TruncateChunk always need a CAP_WRITE capability whose
//    chain names this server, and may forward only to the rest of that chain.
//  - ChunkState, SetChunkVersion, ReplicateChunk, Info, HashChunk and ListReplicas need the cluster
//    key (only the metaserver and peers call them).
//
// Thread-safety: one instance per connection, called by that connection's
// thread only.

#include <memory>

#include "ChunkService.h"
#include "chunk_service.h"
#include "ddbfs/auth.h"
#include "ddbfs/rpc_server.h"

namespace ddbfs::chunkserver {

class ChunkConnection : public rpc::ChunkServiceIf {
 public:
  ChunkConnection(std::shared_ptr<ChunkService> service, PeerInfo peer)
      : service_(std::move(service)), peer_(std::move(peer)) {}

  void WriteChunk(rpc::WriteChunkResponse& resp, const rpc::WriteChunkRequest& req) override;
  void TruncateChunk(rpc::TruncateChunkResponse& resp,
                     const rpc::TruncateChunkRequest& req) override;
  void ReadChunk(rpc::ReadChunkResponse& resp, const rpc::ReadChunkRequest& req) override;
  void ChunkState(rpc::ChunkStateResponse& resp, const rpc::ChunkStateRequest& req) override;
  void SetChunkVersion(rpc::SetChunkVersionResponse& resp,
                       const rpc::SetChunkVersionRequest& req) override;
  void ReplicateChunk(rpc::ReplicateChunkResponse& resp,
                      const rpc::ReplicateChunkRequest& req) override;
  void Info(rpc::ChunkServerInfoResponse& resp, const rpc::ChunkServerInfoRequest& req) override;
  void HashChunk(rpc::HashChunkResponse& resp, const rpc::HashChunkRequest& req) override;
  void ListReplicas(rpc::ListReplicasResponse& resp, const rpc::ListReplicasRequest& req) override;
  void Hello(rpc::HelloResponse& resp, const rpc::HelloRequest& req) override;
  void Authenticate(rpc::AuthenticateResponse& resp, const rpc::AuthenticateRequest& req) override;

 private:
  // OK when the connection authenticated with the cluster key.
  Status RequireCluster(const char* rpc_name) const;
  // The capability checks of a write or truncate (see above).
  Status CheckWrite(bool has_cap, const rpc::Capability& cap, int64_t chunk_id, int64_t version,
                    const std::vector<rpc::ServerAddress>& chain) const;

  template <typename Req, typename Resp>
  void Chained(const char* op, const Req& req, Resp& resp,
               void (ChunkService::*run)(Resp&, const Req&));

  std::shared_ptr<ChunkService> service_;
  PeerInfo peer_;
  ServerHandshake handshake_;
  bool cluster_ = false;
};

// Makes a ChunkConnection for every accepted connection.
class ChunkConnectionFactory : public rpc::ChunkServiceIfFactory {
 public:
  explicit ChunkConnectionFactory(std::shared_ptr<ChunkService> service)
      : service_(std::move(service)) {}
  rpc::ChunkServiceIf* getHandler(const apache::thrift::TConnectionInfo& info) override;
  void releaseHandler(rpc::ChunkServiceIf* handler) override;

 private:
  std::shared_ptr<ChunkService> service_;
};

}  // namespace ddbfs::chunkserver
