#pragma once

// The Thrift handler of ChunkService: validates each request, forwards
// writes and truncates along the replica chain, and hands the local part to
// the ChunkStore.
//
// Thread-safety: one instance serves every connection thread at once.
// Ownership: shares the store with the MetaLink; owns the peer pools.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ChunkService.h"
#include "chunk_store.h"
#include "ddbfs/auth.h"
#include "ddbfs/rpc.h"

namespace ddbfs::chunkserver {

// Longest replica chain accepted (a chain names the servers after this one).
inline constexpr size_t kMaxChainLength = 16;
// How long one hop waits for the rest of the chain to answer.
inline constexpr int kForwardTimeoutMs = 60000;
// Most entries one ListReplicas answers (and ids it takes).
inline constexpr int kMaxListReplicas = 10000;
// Slowest pace a paced copy (ReplicateChunkRequest.max_bytes_per_s) runs at:
// a 64 MiB chunk then takes at most 17 minutes.
inline constexpr int64_t kMinCopyBytesPerS = 64 << 10;

// What a chunk server trusts (docs/security.md).
struct ChunkAuth {
  std::string cluster_secret;  // the cluster key: handshakes with peers
  CapabilityKey capabilities;  // checks the metaserver's capabilities
  HashProofKey hash_proofs;    // signs proofs of replicas' SHA-256 (docs/content_hash.md)
  int64_t skew_ms = 30000;     // clock difference allowed on expiry
  // Connections to peers (forwarding, copies): TLS when on, and the cluster
  // key proven on each.
  std::shared_ptr<const Transport> transport;
};

// The engine behind every connection: requests reach it only through a
// ChunkConnection, which has checked who may make them.
class ChunkService : public rpc::ChunkServiceIf {
 public:
  ChunkService(std::shared_ptr<ChunkStore> store, ChunkAuth auth);
  const ChunkAuth& auth() const { return auth_; }
  // True when `a` names this server: its listen address, or its id once
  // registered.
  bool IsSelf(const rpc::ServerAddress& a) const {
    return (a.host == self_host_ && a.port == self_port_) ||
           (server_id_.load() != 0 && a.server_id == server_id_.load());
  }

  // The id the metaserver gave this server (0 until registered); it names
  // this server in `replicas` of write and truncate replies.
  void set_server_id(int32_t id) { server_id_ = id; }
  int32_t server_id() const { return server_id_; }
  // The registration session the metaserver gave this server (0 until
  // registered): every proof of a replica's hash names it, and none is given
  // without one (docs/content_hash.md).
  void set_session(int64_t session) { session_ = session; }
  // The address this server listens on: ReplicateChunk refuses it as a
  // source. Call before serving.
  void set_self_address(std::string host, int port) {
    self_host_ = std::move(host);
    self_port_ = port;
  }

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
  // Handshakes are per connection (ChunkConnection); never called here.
  void Hello(rpc::HelloResponse& resp, const rpc::HelloRequest& req) override;
  void Authenticate(rpc::AuthenticateResponse& resp, const rpc::AuthenticateRequest& req) override;

 private:
  using Pool = RpcPool<rpc::ChunkServiceClient>;
  // One hop: sends the request to `client` with the chain replaced by `rest`
  // and stores the reply's `replicas`. Transport errors propagate as Thrift
  // exceptions (RpcPool turns them into a Status).
  using HopCall = std::function<void(rpc::ChunkServiceClient& client,
                                     const std::vector<rpc::ServerAddress>& rest,
                                     std::vector<rpc::ReplicaResult>* replicas)>;
  // Sends the request to the first reachable member of `chain` with the rest
  // of the chain; members that fail are reported with their error and
  // skipped. Returns one result per member, in chain order.
  std::vector<rpc::ReplicaResult> Forward(const std::vector<rpc::ServerAddress>& chain,
                                          const HopCall& call);
  // Runs `local` on this thread while the chain is forwarded on another;
  // returns this server's status and fills `replicas` (this server first).
  Status RunChained(const std::vector<rpc::ServerAddress>& chain, const HopCall& call,
                    const std::function<Status()>& local,
                    std::vector<rpc::ReplicaResult>* replicas);
  template <typename Request, typename Response>
  using ClientMethod = void (rpc::ChunkServiceClient::*)(Response&, const Request&);
  // The part write and truncate share: finishes validating `req` (`checked`
  // holds the outcome of the request-specific checks, the chain is checked
  // here), then runs `local` while `method` carries the request down the
  // chain, and fills `resp` (status and replicas). `op` names the request
  // in the log. `req` must be a non-const object (as the Thrift processor's
  // are): its chain is replaced while it is forwarded, and put back.
  template <typename Request, typename Response>
  void ServeChained(std::string_view op, const Request& req, Status checked,
                    ClientMethod<Request, Response> method, const std::function<Status()>& local,
                    Response* resp);
  std::shared_ptr<Pool> PoolFor(const rpc::ServerAddress& address);
  rpc::ReplicaResult Own(const Status& s) const;

  // ReplicateChunk's copy loop: fills `replica` from `source`, at most
  // `bytes_per_s` bytes per second (0: unpaced).
  Status CopyFrom(const rpc::ServerAddress& source, PendingReplica* replica, int64_t bytes_per_s,
                  uint64_t* length);

  std::shared_ptr<ChunkStore> store_;
  const ChunkAuth auth_;
  std::atomic<int32_t> server_id_{0};
  std::atomic<int64_t> session_{0};
  std::string self_host_;
  int self_port_ = 0;
  std::mutex pools_mu_;
  std::map<std::string, std::shared_ptr<Pool>> pools_;  // GUARDED_BY(pools_mu_), by "host:port"
};

// Checks the fields every chunk request shares; exposed for tests.
Status ValidateRange(int64_t chunk_id, int64_t offset, int64_t length);
Status ValidateChain(const std::vector<rpc::ServerAddress>& chain);

}  // namespace ddbfs::chunkserver
