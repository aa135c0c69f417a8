#pragma once

// The metaserver's side of the trust boundary (docs/security.md): the export
// keys clients authenticate with, and what each connection is allowed.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ddbfs/auth.h"
#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc_server.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/service/page_token.h"
#include "metaserver/store/key_store.h"

namespace ddbfs::meta {

// OK when `cidr` is an IPv4 or IPv6 network ("10.0.0.0/8", "::1/128", or an
// address alone, meaning /32 or /128).
Status ValidateNetwork(const std::string& cidr);
// True when `address` (an IP as the socket reports it) lies in one of
// `networks`; an empty list admits every address.
bool AddressInNetworks(const std::string& address, const std::vector<std::string>& networks);

// The export keys, cached from ddbfs_secret.export_keys: loaded at start,
// changed through Add/Revoke (written to PostgreSQL first), and reloaded
// every `refresh` so that a change made by another metaserver is seen within
// seconds. Thread-safe.
class KeyRegistry {
 public:
  explicit KeyRegistry(OpContext& ctx, std::chrono::milliseconds refresh = std::chrono::seconds(2));
  ~KeyRegistry();  // Stop()

  Status Load();
  void Start();  // the refresh thread
  void Stop();

  // The key if it exists and is not revoked.
  std::shared_ptr<const store::ExportKeyRecord> Find(const std::string& key_id) const;
  // Adds a key with a fresh id and secret (both in the result).
  Result<store::ExportKeyRecord> Add(store::ExportKeyRecord key);
  Status Revoke(const std::string& key_id);
  std::vector<store::ExportKeyRecord> List() const;

 private:
  void Loop();

  OpContext& ctx_;
  const std::chrono::milliseconds refresh_;
  mutable std::mutex mu_;
  // Immutable records, replaced as a whole on change: Find() shares them.
  std::map<std::string, std::shared_ptr<const store::ExportKeyRecord>> keys_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// What every connection of one metaserver shares.
struct MetaSecurity {
  std::string cluster_secret;
  CapabilityKey capabilities;
  HashProofKey hash_proofs;                // checks chunk servers' proofs of SHA-256s
  PageTokenKey page_tokens;                // seals FindDuplicates cursors
  int64_t capability_ms = 10 * 60 * 1000;  // lifetime of a capability
  KeyRegistry* keys = nullptr;
};

// What one request may do, as established from its connection (and, under a
// trusted export key, from the identity the client asserts).
struct Access {
  Caller caller;
  bool server = false;  // a cluster member (cluster key, or root on this host)
  bool admin = false;   // may manage keys
  bool read_only = false;
  std::string subtree = "/";
  InodeId root = kRootInode;  // the subtree's directory
  std::string principal;      // for logs and WhoAmI
  // Who owns the client sessions this connection opens: the principal
  // without its address ("uid:1000", "key:<id>", "cluster"), the same on
  // every connection of that principal.
  std::string owner;
};

// Who a connection authenticated as. One per connection; not thread-safe.
class Session {
 public:
  explicit Session(PeerInfo peer);

  const PeerInfo& peer() const { return peer_; }
  bool authenticated() const { return kind_ != Kind::kNone; }
  std::string Describe() const;
  // Access::owner of this connection ("" before authentication).
  std::string Owner() const;

  // Hello/Authenticate (common/ddbfs.thrift).
  void Hello(const MetaSecurity& security, rpc::HelloResponse* resp);
  void Authenticate(const MetaSecurity& security, const rpc::AuthenticateRequest& req,
                    rpc::AuthenticateResponse* resp);

  // What a request with context `rc` (may be null) may do; kUnauthenticated
  // before authentication or once the connection's key was revoked.
  Result<Access> Authorize(const MetaSecurity& security, const rpc::RequestContext* rc) const;

  // The directory a subtree-limited key reaches (found at Authenticate).
  void set_root(InodeId root) { root_ = root; }
  // Back to unauthenticated.
  void Reset() { kind_ = Kind::kNone; }

 private:
  enum class Kind { kNone, kPeer, kCluster, kKey };
  PeerInfo peer_;
  Kind kind_ = Kind::kNone;
  Caller peer_caller_;  // kPeer: from SO_PEERCRED and the local group database
  std::string key_id_;  // kKey
  InodeId root_ = kRootInode;
  ServerHandshake handshake_;
};

}  // namespace ddbfs::meta
