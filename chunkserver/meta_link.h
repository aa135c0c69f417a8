#pragma once

// The chunk server's side of its relation with the metaserver: registers
// (uuid, address, label, space), sends its inventory in pages sorted by chunk
// id (docs/metadata.md, "Chunk servers and liveness"), then heartbeats,
// deletes the replicas the metaserver orders deleted and reports them back.
// While the metaserver cannot be reached it retries every second and the
// chunk server keeps serving. Given several metaserver addresses (the active
// one and its standbys, docs/ha.md), it registers with the first that
// accepts, trying them in turn (a round that finds none starts the next one
// at the address that failed quickest), and moves to the next one when the
// current one cannot be reached or answers "unavailable"; a refused registration (another live
// server holds this uuid) is logged as an error and retried every `refused_retry_ms`.
//
// Thread-safety: Start/Stop from one thread; the accessors from any thread.
// Ownership: shares the store with the ChunkService; runs one thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "MetaService.h"
#include "chunk_store.h"
#include "ddbfs/rpc.h"

namespace ddbfs::chunkserver {

struct MetaLinkOptions {
  // The metaserver's addresses: the active one and its standbys, in any
  // order.
  std::vector<Endpoint> metas{{"127.0.0.1", 9400}};
  // The address this server advertises to clients and peers.
  std::string host;
  int port = 0;
  std::string label;
  std::string rack;  // "": none
  // Pause between registration attempts while the metaserver is away.
  int retry_ms = 1000;
  // Pause after the metaserver refused the registration (PERMISSION_DENIED).
  int refused_retry_ms = 10000;
  // Timeout of one call to the metaserver.
  int rpc_timeout_ms = 5000;
  // Largest inventory page sent (the metaserver may ask for smaller ones).
  int max_page_entries = 50000;
  // Orphan check (docs/repair.md, "Orphans"): every this many ms the whole
  // inventory is sent again with CheckReplicas, one page per heartbeat, so
  // that the metaserver can delete replicas it does not know; 0: never.
  int64_t inventory_check_interval_ms = 600000;
  // TLS and the cluster key the connection to the metaserver proves.
  std::shared_ptr<const Transport> transport;
  // Runs on the link's thread after each successful registration, inventory
  // included, with the server's id and its new registration session.
  std::function<void(int32_t id, int64_t session)> on_session;
};

// Who registers, as RegisterServer carries it.
struct ServerIdentity {
  std::string host;
  int port = 0;
  std::string label;
  std::string rack;  // "": not sent
  std::string uuid;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
};

struct Registration {
  int32_t server_id = 0;
  int64_t session = 0;  // 0: the metaserver predates sessions
  int heartbeat_interval_ms = 0;
  int pages = 0;  // ReportInventory calls made
};

// One registration over `conn`: RegisterServer, then `inventory` (sorted by
// chunk id) in ReportInventory pages of at most min(max_page_entries, what
// the metaserver allows). `on_delete` gets each batch of replicas the
// metaserver orders deleted, as they come. A metaserver that predates paged
// registration (ReportInventory is an unknown method) gets the inventory
// inline instead. `on_registered(id)` runs once the registration (before
// the pages) was accepted. Fails with the metaserver's status
// (PERMISSION_DENIED: another live server holds the uuid) or kUnavailable.
// Public so that tests drive the real paging code with generated
// inventories.
Result<Registration> RegisterWithMetaserver(
    RpcConnection<rpc::MetaServiceClient>& conn, const ServerIdentity& who,
    const std::vector<ChunkReplica>& inventory, int max_page_entries,
    const std::function<void(int32_t)>& on_registered,
    const std::function<void(const std::vector<int64_t>&)>& on_delete);

class MetaLink {
 public:
  // `on_registered(id)` runs on the link's thread after each successful
  // registration.
  MetaLink(MetaLinkOptions options, std::shared_ptr<ChunkStore> store,
           std::function<void(int32_t)> on_registered);
  ~MetaLink();
  MetaLink(const MetaLink&) = delete;
  MetaLink& operator=(const MetaLink&) = delete;

  void Start();
  // Returns once the thread ended (at most one RPC timeout).
  void Stop();

  bool registered() const { return registered_; }
  int32_t server_id() const { return server_id_; }
  // Successful heartbeats since Start (for tests and logs).
  int64_t heartbeats() const { return heartbeats_; }
  // Full orphan checks finished since Start.
  int64_t inventory_checks() const { return inventory_checks_; }

 private:
  void Run();
  // 0 when registered, else how long to pause before trying again.
  int Register();
  // False when the server must register again.
  bool Heartbeat();
  void DeleteChunks(const std::vector<int64_t>& chunk_ids);
  // The next page of the orphan check when one is due.
  void CheckInventoryPage();
  // Sleeps `ms` unless Stop() comes first; false when stopping.
  bool Pause(int ms);
  std::string meta_address() const;

  const MetaLinkOptions options_;
  const std::shared_ptr<ChunkStore> store_;
  const std::function<void(int32_t)> on_registered_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)

  std::atomic<bool> registered_{false};
  std::atomic<int32_t> server_id_{0};
  std::atomic<int64_t> session_{0};
  std::atomic<int64_t> heartbeats_{0};
  std::atomic<int64_t> inventory_checks_{0};

  // Used by the link's thread only. One connection per metaserver address;
  // current_ is the one registered with (or tried next).
  RpcConnection<rpc::MetaServiceClient>& conn() { return *conns_[current_]; }
  // Closes the current connection; the next one becomes current.
  void MoveOn();
  std::vector<std::unique_ptr<RpcConnection<rpc::MetaServiceClient>>> conns_;
  size_t current_ = 0;
  // Failures of a registration round this close in time count as alike.
  static constexpr std::chrono::milliseconds kSameFailureTime{100};
  int heartbeat_interval_ms_ = 1000;
  std::vector<int64_t> deleted_;  // deleted since the last heartbeat
  // The orphan check: the next one starts at next_check_; while one runs,
  // check_after_ is the last chunk id sent.
  std::chrono::steady_clock::time_point next_check_{};
  bool checking_ = false;
  uint64_t check_after_ = 0;
  int page_entries_ = 50000;  // as the metaserver allows
};

}  // namespace ddbfs::chunkserver
