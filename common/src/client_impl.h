#pragma once

// Private state of a libddbfs Client, shared by client.cc, file_reader.cc and
// file_writer.cc: the metaserver connection with its retry policy, the pools
// of chunk server connections, and the wire <-> API conversions.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ChunkService.h"
#include "MetaService.h"
#include "ddbfs/client.h"
#include "ddbfs/rpc.h"

namespace ddbfs {

using MetaPool = RpcFailoverPool<rpc::MetaServiceClient>;
using ChunkPool = RpcPool<rpc::ChunkServiceClient>;

// Thread-safe: every member is either immutable after construction or
// guarded by its own mutex (the pools lock internally).
struct Client::Impl {
  Impl(ClientOptions opts, const std::vector<Endpoint>& metas,
       std::shared_ptr<const Transport> transport_config);

  // Runs one metaserver RPC: `call(client, *resp)` fills the response, whose
  // status is returned. A transport failure or an UNAVAILABLE or TIMED_OUT
  // answer is retried with backoff (100 ms doubling to 1 s, at most 250 ms
  // after an UNAVAILABLE answer; counted from the start of each attempt) until
  // options.meta_retry_ms has passed; each attempt waits at most
  // options.rpc_timeout_ms. With several metaserver addresses, each attempt
  // tries them in turn from the current one, and an UNAVAILABLE answer
  // moves the next attempt to the next address (docs/ha.md). Retries re-send the same request, so a
  // mutation keeps its request id (Context()). `what` names the operation in logs.
  template <typename Resp, typename Call>
  Status Meta(std::string_view what, Resp* resp, Call call) {
    return MetaLoop(
        what,
        [&](rpc::MetaServiceClient& c) {
          *resp = Resp();  // nothing left over from a failed attempt
          call(c, *resp);
        },
        [&] { return FromRpc(resp->status); });
  }

  // Pool of connections to one chunk server, created on first use.
  ChunkPool& Chunk(const rpc::ServerAddress& address);

  // The context of one new mutation: the caller, a request id (this
  // client's id and the next seq; every retry of the call re-sends the same
  // request, so the metaserver answers it at most once) and the time this
  // client waits for each attempt (rpc_timeout_ms).
  rpc::RequestContext Context();
  // The caller's identity for a read (no request id).
  rpc::RequestContext ReadContext() const;

  // Chunk map window [first, first + count) of a file; chunks outside the
  // window (if the server returns more) are dropped, holes are absent.
  Status GetChunks(InodeId inode, int64_t first, int count, bool all_replicas,
                   rpc::GetChunksResponse* out);
  // Client::DeclaringOpen of this thread: its session (0: none), and
  // recording an answer's open_set_needed.
  static int64_t DeclaringSession();
  static void NoteOpenSetNeeded(bool needed);

  // Tells the metaserver a replica is corrupt or missing (best effort: the
  // read continues from another replica whatever the answer).
  void ReportBadReplica(int64_t chunk_id, int server_id, ErrorCode reason);

  // "cannot reach metaserver at H:P[,H:P...] (reason) — is it running? ..."
  std::string UnreachableMessage(const std::string& transport_error) const;

  const ClientOptions options;
  // Connections to the metaserver (TLS, the key; every address it was
  // given) and to chunk servers (TLS).
  const std::shared_ptr<const Transport> transport;
  std::shared_ptr<const Transport> chunk_transport;
  MetaPool meta;

 private:
  Status MetaLoop(std::string_view what, const std::function<void(rpc::MetaServiceClient&)>& rpc,
                  const std::function<Status()>& answer);

  // 16 random bytes naming this client in request ids, and the last seq.
  const std::string client_id_;
  std::atomic<int64_t> last_seq_{0};

  std::mutex chunk_mu_;
  std::map<std::string, std::unique_ptr<ChunkPool>> chunk_pools_;  // GUARDED_BY(chunk_mu_)
};

// ---- conversions (client.cc)
Attr FromRpc(const rpc::Attr& a);
ChunkView ToView(const rpc::ChunkInfo& c);
std::string AddressOf(const rpc::ServerAddress& a);

// kNameTooLong / kInvalidArgument for a name the metaserver would refuse.
Status CheckName(std::string_view name);

// "server 3 at 127.0.0.1:9501: checksum mismatch" lists for error messages.
std::string DescribeFailures(const std::vector<std::pair<rpc::ServerAddress, Status>>& failures);

// Result of one request sent along a replica chain (WriteChunk,
// TruncateChunk): the servers that acknowledged it and those that failed.
struct ChainOutcome {
  std::vector<rpc::ServerAddress> ok;
  std::vector<std::pair<rpc::ServerAddress, Status>> failed;
};

// Sends one chained request to replicas[0] with chain = the rest; `send`
// performs the RPC on the head's connection and returns the per-replica
// results. If the head cannot be reached, it is dropped and the request is
// sent again with the next replica as head. Thread-safe.
using ChainSend =
    std::function<void(rpc::ChunkServiceClient& head, const std::vector<rpc::ServerAddress>& chain,
                       std::vector<rpc::ReplicaResult>* results, Status* own)>;
ChainOutcome SendAlongChain(Client::Impl* impl, const std::vector<rpc::ServerAddress>& replicas,
                            const ChainSend& send);

// PrepareWrite of chunk `index`, waiting (with backoff, up to
// options.lease_wait_ms) while another writer holds the chunk's lease; then
// kTimedOut. Defined in file_writer.cc.
Status PrepareChunkWrite(Client::Impl* impl, InodeId inode, int64_t index,
                         rpc::PrepareWriteResponse* out);

// FileReader / FileWriter factories (file_reader.cc, file_writer.cc).
Result<std::unique_ptr<FileReader>> NewFileReader(Client::Impl* impl, InodeId inode);
Result<std::unique_ptr<FileWriter>> NewFileWriter(Client::Impl* impl, InodeId inode);
// A writer of a file just created (size 0, no GetAttr), with `first_chunk`
// (from CreateResponse) used instead of a PrepareWrite when it is set.
std::unique_ptr<FileWriter> NewCreatedFileWriter(Client::Impl* impl, InodeId inode,
                                                 std::optional<rpc::ChunkPlacement> first_chunk);

}  // namespace ddbfs
