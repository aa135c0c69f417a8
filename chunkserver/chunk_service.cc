#include "chunk_service.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <system_error>
#include <thread>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"

namespace ddbfs::chunkserver {

Status ValidateRange(int64_t chunk_id, int64_t offset, int64_t length) {
  if (chunk_id <= 0)
    return InvalidArgument("chunk id must be > 0, got " + std::to_string(chunk_id));
  if (offset < 0) return InvalidArgument("negative offset " + std::to_string(offset));
  if (length < 0) return InvalidArgument("negative length " + std::to_string(length));
  const auto chunk_size = static_cast<int64_t>(kChunkSize);
  if (offset > chunk_size || length > chunk_size - offset) {
    return InvalidArgument("range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                           ") goes past the chunk size " + std::to_string(chunk_size));
  }
  return Status();
}

Status ValidateChain(const std::vector<rpc::ServerAddress>& chain) {
  if (chain.size() > kMaxChainLength) {
    return InvalidArgument("replica chain of " + std::to_string(chain.size()) +
                           " servers is longer than " + std::to_string(kMaxChainLength));
  }
  for (const auto& a : chain) {
    if (a.host.empty() || a.port <= 0 || a.port > 65535) {
      return InvalidArgument("bad chain member '" + a.host + ":" + std::to_string(a.port) + "'");
    }
  }
  return Status();
}

namespace {

Status ValidateVersion(int64_t version) {
  if (version <= 0) return InvalidArgument("version must be > 0, got " + std::to_string(version));
  return Status();
}

void LogFailure(std::string_view op, int64_t chunk_id, const Status& s) {
  if (s.ok()) return;
  if (s.code() == ErrorCode::kChecksumMismatch || s.code() == ErrorCode::kIoError ||
      s.code() == ErrorCode::kNoSpace || s.code() == ErrorCode::kInternal) {
    LOG(kWarn) << op << " chunk " << chunk_id << ": " << s;
  } else {
    LOG(kDebug) << op << " chunk " << chunk_id << ": " << s;
  }
}

}  // namespace

ChunkService::ChunkService(std::shared_ptr<ChunkStore> store, ChunkAuth auth)
    : store_(std::move(store)), auth_(std::move(auth)) {}

rpc::ReplicaResult ChunkService::Own(const Status& s) const {
  rpc::ReplicaResult r;
  r.server_id = server_id_.load();
  r.status = ToRpc(s);
  return r;
}

std::shared_ptr<ChunkService::Pool> ChunkService::PoolFor(const rpc::ServerAddress& address) {
  const std::string key = address.host + ":" + std::to_string(address.port);
  std::lock_guard<std::mutex> lock(pools_mu_);
  auto& pool = pools_[key];
  if (!pool) {
    pool =
        std::make_shared<Pool>(address.host, address.port, kForwardTimeoutMs, 16, auth_.transport);
  }
  return pool;
}

std::vector<rpc::ReplicaResult> ChunkService::Forward(const std::vector<rpc::ServerAddress>& chain,
                                                      const HopCall& call) {
  std::vector<rpc::ReplicaResult> out;
  for (size_t i = 0; i < chain.size(); ++i) {
    const std::vector<rpc::ServerAddress> rest(chain.begin() + static_cast<ptrdiff_t>(i) + 1,
                                               chain.end());
    std::vector<rpc::ReplicaResult> downstream;
    auto pool = PoolFor(chain[i]);
    Status s = pool->Call([&](rpc::ChunkServiceClient& client) {
      downstream.clear();
      call(client, rest, &downstream);
    });
    if (s.ok()) {
      if (downstream.empty()) {
        rpc::ReplicaResult r;
        r.server_id = chain[i].server_id;
        r.status = ToRpc(Internal(pool->address() + " answered without its own result"));
        downstream.push_back(r);
      } else if (downstream.front().server_id == 0) {
        // A peer that has not registered yet does not know its id.
        downstream.front().server_id = chain[i].server_id;
      }
      out.insert(out.end(), downstream.begin(), downstream.end());
      return out;
    }
    LOG(kWarn) << "replica chain: " << pool->address() << " failed (" << s
               << "); forwarding to the next member";
    rpc::ReplicaResult r;
    r.server_id = chain[i].server_id;
    r.status = ToRpc(s);
    out.push_back(r);
  }
  return out;
}

Status ChunkService::RunChained(const std::vector<rpc::ServerAddress>& chain, const HopCall& call,
                                const std::function<Status()>& local,
                                std::vector<rpc::ReplicaResult>* replicas) {
  std::vector<rpc::ReplicaResult> downstream;
  std::thread forwarder;
  bool forwarded = chain.empty();
  if (!forwarded) {
    try {
      forwarder = std::thread([&] { downstream = Forward(chain, call); });
      forwarded = true;
    } catch (const std::system_error& e) {
      LOG(kWarn) << "cannot start a forwarding thread (" << e.what() << "); forwarding after the "
                 << "local write";
    }
  }
  Status s = local();
  if (forwarder.joinable()) forwarder.join();
  if (!forwarded) downstream = Forward(chain, call);
  replicas->clear();
  replicas->push_back(Own(s));
  replicas->insert(replicas->end(), downstream.begin(), downstream.end());
  return s;
}

template <typename Request, typename Response>
void ChunkService::ServeChained(std::string_view op, const Request& req, Status checked,
                                ClientMethod<Request, Response> method,
                                const std::function<Status()>& local, Response* resp) {
  if (checked.ok()) checked = ValidateChain(req.chain);
  if (!checked.ok()) {
    LogFailure(op, req.chunk_id, checked);
    resp->status = ToRpc(checked);
    resp->replicas = {Own(checked)};
    return;
  }
  // The request goes down the chain as it came, with only its chain
  // replaced, so that a write's data (up to 4 MiB) is not copied for the
  // next hop. The Thrift processor hands the handler its own (non-const)
  // request object; only the forwarding thread touches `chain` while the
  // local operation reads the other fields, and the chain is put back
  // before the handler returns.
  auto& forwarded = const_cast<Request&>(req);
  const std::vector<rpc::ServerAddress> chain = req.chain;
  HopCall call = [&forwarded, method](rpc::ChunkServiceClient& client,
                                      const std::vector<rpc::ServerAddress>& rest,
                                      std::vector<rpc::ReplicaResult>* replicas) {
    forwarded.chain = rest;
    Response r;
    (client.*method)(r, forwarded);
    *replicas = std::move(r.replicas);
  };
  Status s = RunChained(chain, call, local, &resp->replicas);
  forwarded.chain = chain;
  LogFailure(op, req.chunk_id, s);
  resp->status = ToRpc(s);
}

void ChunkService::WriteChunk(rpc::WriteChunkResponse& resp, const rpc::WriteChunkRequest& req) {
  Status v = ValidateRange(req.chunk_id, req.offset, static_cast<int64_t>(req.data.size()));
  if (v.ok()) v = ValidateVersion(req.version);
  if (v.ok() && req.data.size() > kMaxIoSize) {
    v = InvalidArgument("write of " + std::to_string(req.data.size()) + " bytes is larger than " +
                        std::to_string(kMaxIoSize));
  }
  // A sealed write answers a proof of the replica's SHA-256, given only by
  // a registered server (the proof names its session). The seal lasts as
  // long as a capability for this version could still write.
  const int32_t id = server_id_.load();
  const int64_t session = session_.load();
  HashRequest hash;
  hash.seal = req.__isset.seal && req.seal && id != 0 && session != 0 && auth_.hash_proofs.valid();
  hash.seal_until_ms = req.cap.expires_ms + auth_.skew_ms;
  HashAnswer answer;
  ServeChained(
      "write", req, std::move(v), &rpc::ChunkServiceClient::WriteChunk,
      [&] {
        return store_->Write(static_cast<uint64_t>(req.chunk_id),
                             static_cast<uint64_t>(req.version), static_cast<uint64_t>(req.offset),
                             std::span<const char>(req.data.data(), req.data.size()), req.sync,
                             hash, &answer);
      },
      &resp);
  if (answer.sealed && !resp.replicas.empty()) {
    rpc::ChunkHashProof proof;
    proof.server_id = id;
    proof.session = session;
    proof.chunk_id = req.chunk_id;
    proof.version = req.version;
    proof.length = static_cast<int64_t>(answer.length);
    proof.sha256 = answer.sha256;
    auth_.hash_proofs.Sign(&proof);
    resp.replicas.front().__set_hash(proof);
  }
}

void ChunkService::HashChunk(rpc::HashChunkResponse& resp, const rpc::HashChunkRequest& req) {
  Status s = ValidateRange(req.chunk_id, 0, req.length);
  if (s.ok()) s = ValidateVersion(req.version);
  if (s.ok() && req.seal_ms < 0) s = InvalidArgument("negative seal_ms");
  uint64_t replica_length = 0;
  Result<std::string> digest = s;
  if (s.ok()) {
    // Writes are accepted up to skew after a capability's expiry, by this
    // server's clock; the metaserver's clock may differ by as much.
    const int64_t until = UnixNowMs() + req.seal_ms + 2 * auth_.skew_ms;
    digest =
        store_->HashReplica(static_cast<uint64_t>(req.chunk_id), static_cast<uint64_t>(req.version),
                            static_cast<uint64_t>(req.length), until, &replica_length);
  }
  if (!digest.ok()) {
    LogFailure("hash", req.chunk_id, digest.status());
    resp.status = ToRpc(digest.status());
    return;
  }
  resp.status = RpcOk();
  resp.sha256 = *digest;
  resp.replica_length = static_cast<int64_t>(replica_length);
}

void ChunkService::TruncateChunk(rpc::TruncateChunkResponse& resp,
                                 const rpc::TruncateChunkRequest& req) {
  Status v = ValidateRange(req.chunk_id, 0, req.length);
  if (v.ok()) v = ValidateVersion(req.version);
  ServeChained(
      "truncate", req, std::move(v), &rpc::ChunkServiceClient::TruncateChunk,
      [&] {
        return store_->Truncate(static_cast<uint64_t>(req.chunk_id),
                                static_cast<uint64_t>(req.version),
                                static_cast<uint64_t>(req.length));
      },
      &resp);
}

void ChunkService::ReadChunk(rpc::ReadChunkResponse& resp, const rpc::ReadChunkRequest& req) {
  Status v = ValidateRange(req.chunk_id, req.offset, req.length);
  if (v.ok() && req.version < 0) v = InvalidArgument("negative version");
  if (v.ok() && static_cast<uint64_t>(req.length) > kMaxIoSize) {
    v = InvalidArgument("read of " + std::to_string(req.length) + " bytes is larger than " +
                        std::to_string(kMaxIoSize));
  }
  if (!v.ok()) {
    LogFailure("read", req.chunk_id, v);
    resp.status = ToRpc(v);
    return;
  }
  auto result =
      store_->Read(static_cast<uint64_t>(req.chunk_id), static_cast<uint64_t>(req.version),
                   static_cast<uint64_t>(req.offset), static_cast<uint64_t>(req.length));
  if (!result.ok()) {
    LogFailure("read", req.chunk_id, result.status());
    resp.status = ToRpc(result.status());
    return;
  }
  resp.status = RpcOk();
  resp.data = std::move(result->data);
  resp.version = static_cast<int64_t>(result->version);
}

void ChunkService::ChunkState(rpc::ChunkStateResponse& resp, const rpc::ChunkStateRequest& req) {
  Status v = ValidateRange(req.chunk_id, 0, 0);
  if (!v.ok()) {
    resp.status = ToRpc(v);
    return;
  }
  auto state = store_->State(static_cast<uint64_t>(req.chunk_id));
  if (!state.ok()) {
    LogFailure("state", req.chunk_id, state.status());
    resp.status = ToRpc(state.status());
    return;
  }
  if (req.__isset.verify && req.verify) {
    for (uint64_t off = 0; off < state->length; off += kMaxIoSize) {
      auto piece = store_->Read(static_cast<uint64_t>(req.chunk_id), state->version, off,
                                std::min<uint64_t>(kMaxIoSize, state->length - off));
      if (!piece.ok()) {
        LogFailure("verify", req.chunk_id, piece.status());
        resp.status = ToRpc(piece.status());
        return;
      }
    }
  }
  resp.status = RpcOk();
  resp.version = static_cast<int64_t>(state->version);
  resp.length = static_cast<int64_t>(state->length);
}

void ChunkService::SetChunkVersion(rpc::SetChunkVersionResponse& resp,
                                   const rpc::SetChunkVersionRequest& req) {
  Status s = ValidateRange(req.chunk_id, 0, std::max<int64_t>(req.length, 0));
  if (s.ok()) s = ValidateVersion(req.from_version);
  if (s.ok()) s = ValidateVersion(req.to_version);
  if (s.ok() && req.to_version < req.from_version) {
    s = InvalidArgument("to_version " + std::to_string(req.to_version) + " is lower than " +
                        "from_version " + std::to_string(req.from_version));
  }
  if (s.ok() && req.length < -1) s = InvalidArgument("length must be >= -1");
  if (s.ok()) {
    s = store_->SetVersion(static_cast<uint64_t>(req.chunk_id),
                           static_cast<uint64_t>(req.from_version),
                           static_cast<uint64_t>(req.to_version), req.length);
  }
  LogFailure("set version of", req.chunk_id, s);
  resp.status = ToRpc(s);
}

Status ChunkService::CopyFrom(const rpc::ServerAddress& source, PendingReplica* replica,
                              int64_t bytes_per_s, uint64_t* length) {
  auto pool = PoolFor(source);
  rpc::ChunkStateRequest state_req;
  state_req.chunk_id = static_cast<int64_t>(replica->chunk_id);
  rpc::ChunkStateResponse state;
  RETURN_IF_ERROR(pool->Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, state_req); }));
  RETURN_IF_ERROR(FromRpc(state.status));
  if (state.version != static_cast<int64_t>(replica->version)) {
    return Status(ErrorCode::kStaleVersion, "source " + pool->address() + " holds version " +
                                                std::to_string(state.version) + " of chunk " +
                                                ChunkIdHex(replica->chunk_id) + ", not " +
                                                std::to_string(replica->version));
  }
  if (state.length < 0 || static_cast<uint64_t>(state.length) > kChunkSize) {
    return Internal("source " + pool->address() + " reports length " +
                    std::to_string(state.length));
  }
  const uint64_t total = static_cast<uint64_t>(state.length);
  // A copy past --capacity-gib is refused before it starts.
  RETURN_IF_ERROR(store_->CheckRoom(total));
  // A paced copy reads pieces of at most a second's worth (whole blocks),
  // and after each piece waits until its bytes are due; the replica is
  // committed only after that wait.
  uint64_t piece_size = kMaxIoSize;
  if (bytes_per_s > 0) {
    bytes_per_s = std::max(bytes_per_s, kMinCopyBytesPerS);
    piece_size = std::clamp<uint64_t>(static_cast<uint64_t>(bytes_per_s) / kBlockSize * kBlockSize,
                                      kBlockSize, kMaxIoSize);
  }
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t off = 0; off < total; off += piece_size) {
    rpc::ReadChunkRequest read;
    read.chunk_id = static_cast<int64_t>(replica->chunk_id);
    read.version = static_cast<int64_t>(replica->version);
    read.offset = static_cast<int64_t>(off);
    read.length = static_cast<int32_t>(std::min<uint64_t>(piece_size, total - off));
    rpc::ReadChunkResponse piece;
    RETURN_IF_ERROR(pool->Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(piece, read); }));
    RETURN_IF_ERROR(FromRpc(piece.status));
    if (piece.data.size() != static_cast<size_t>(read.length)) {
      return Unavailable("source " + pool->address() + " returned " +
                         std::to_string(piece.data.size()) + " bytes at offset " +
                         std::to_string(off) + ", expected " + std::to_string(read.length) +
                         " (did the chunk change during the copy?)");
    }
    RETURN_IF_ERROR(replica->file->Write(
        off, std::span<const char>(piece.data.data(), piece.data.size()), replica->version));
    replica->hash.Update(piece.data);
    if (bytes_per_s > 0) {
      const uint64_t done = off + static_cast<uint64_t>(read.length);
      std::this_thread::sleep_until(
          start + std::chrono::microseconds(static_cast<int64_t>(
                      static_cast<double>(done) * 1e6 / static_cast<double>(bytes_per_s))));
    }
  }
  if (replica->file->length() != total) {
    // An empty or short source still gives the same length.
    RETURN_IF_ERROR(replica->file->Truncate(total, replica->version));
  }
  *length = total;
  return Status();
}

void ChunkService::ReplicateChunk(rpc::ReplicateChunkResponse& resp,
                                  const rpc::ReplicateChunkRequest& req) {
  Status s = ValidateRange(req.chunk_id, 0, 0);
  if (s.ok()) s = ValidateVersion(req.version);
  if (s.ok()) s = ValidateChain({req.source});
  if (s.ok() && req.__isset.max_bytes_per_s && req.max_bytes_per_s < 0) {
    s = InvalidArgument("max_bytes_per_s must be >= 0");
  }
  if (s.ok() && ((req.source.port == self_port_ && req.source.host == self_host_) ||
                 (req.source.server_id != 0 && req.source.server_id == server_id_.load()))) {
    s = InvalidArgument("source " + req.source.host + ":" + std::to_string(req.source.port) +
                        " is this server itself");
  }
  uint64_t length = 0;
  if (s.ok()) {
    auto replica = store_->BeginReplica(static_cast<uint64_t>(req.chunk_id),
                                        static_cast<uint64_t>(req.version));
    s = replica.status();
    if (s.ok()) {
      s = CopyFrom(req.source, &*replica, req.__isset.max_bytes_per_s ? req.max_bytes_per_s : 0,
                   &length);
      if (s.ok()) {
        s = store_->CommitReplica(&*replica);
      } else {
        store_->AbortReplica(&*replica);
      }
    }
  }
  LogFailure("replicate", req.chunk_id, s);
  if (s.ok()) {
    LOG(kInfo) << "copied chunk " << ChunkIdHex(static_cast<uint64_t>(req.chunk_id)) << " version "
               << req.version << " (" << length << " bytes) from " << req.source.host << ":"
               << req.source.port;
  }
  resp.status = ToRpc(s);
  resp.length = static_cast<int64_t>(length);
}

void ChunkService::Info(rpc::ChunkServerInfoResponse& resp, const rpc::ChunkServerInfoRequest&) {
  SpaceInfo space = store_->Space();
  resp.status = RpcOk();
  resp.server_id = server_id_.load();
  resp.capacity_bytes = static_cast<int64_t>(space.capacity_bytes);
  resp.used_bytes = static_cast<int64_t>(space.used_bytes);
  resp.chunk_count = static_cast<int64_t>(store_->chunk_count());
}

void ChunkService::ListReplicas(rpc::ListReplicasResponse& resp,
                                const rpc::ListReplicasRequest& req) {
  std::vector<ReplicaListing> found;
  if (req.__isset.chunk_ids) {
    if (req.chunk_ids.size() > static_cast<size_t>(kMaxListReplicas)) {
      resp.status = ToRpc(InvalidArgument("at most " + std::to_string(kMaxListReplicas) +
                                          " chunk ids per ListReplicas"));
      return;
    }
    std::vector<uint64_t> ids;
    ids.reserve(req.chunk_ids.size());
    for (int64_t id : req.chunk_ids) {
      if (id > 0) ids.push_back(static_cast<uint64_t>(id));
    }
    found = store_->ListIds(ids);
  } else {
    if (req.after_chunk_id < 0 || req.upto_chunk_id < req.after_chunk_id) {
      resp.status = ToRpc(InvalidArgument("bad chunk id range"));
      return;
    }
    const size_t limit = static_cast<size_t>(std::clamp(req.limit, 1, kMaxListReplicas));
    bool more = false;
    found = store_->List(static_cast<uint64_t>(req.after_chunk_id),
                         static_cast<uint64_t>(req.upto_chunk_id), limit, &more);
    resp.more = more;
  }
  resp.entries.reserve(found.size());
  for (const ReplicaListing& l : found) {
    // fsck asks what is really on disk: a file removed behind the
    // server's back is left out (and reported lost with the next heartbeat).
    if (!l.corrupt && !store_->ConfirmOnDisk(l.chunk_id)) continue;
    rpc::ReplicaListing e;
    e.chunk_id = static_cast<int64_t>(l.chunk_id);
    e.version = static_cast<int64_t>(l.version);
    e.length = static_cast<int64_t>(l.length);
    e.corrupt = l.corrupt;
    e.age_ms = l.age_ms;
    resp.entries.push_back(e);
  }
  resp.status = RpcOk();
}

void ChunkService::Hello(rpc::HelloResponse& resp, const rpc::HelloRequest&) {
  resp.status = ToRpc(Internal("Hello reached the shared service"));
}

void ChunkService::Authenticate(rpc::AuthenticateResponse& resp, const rpc::AuthenticateRequest&) {
  resp.status = ToRpc(Internal("Authenticate reached the shared service"));
}

}  // namespace ddbfs::chunkserver
