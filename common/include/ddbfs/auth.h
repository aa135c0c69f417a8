#pragma once

// Authentication and capabilities shared by every process (docs/security.md):
// keys, the connection handshake's proofs, and the HMAC capabilities that
// the metaserver signs and the chunk servers verify.

#include <cstdint>
#include <string>
#include <string_view>

#include "ddbfs/status.h"
#include "ddbfs_types.h"

namespace ddbfs {

inline constexpr size_t kSecretBytes = 32;
// Capability.ops bits (CAP_READ / CAP_WRITE in common/ddbfs.thrift).
inline constexpr int32_t kCapRead = 1;
inline constexpr int32_t kCapWrite = 2;
inline constexpr size_t kNonceBytes = 32;
// The key id a server (or the metaserver's own peers) authenticates with.
inline constexpr std::string_view kClusterKeyId = "cluster";

// A key a connection authenticates with: the cluster key, or an export key.
struct Credential {
  std::string key_id;
  std::string secret;  // kSecretBytes raw bytes
};

// Wall-clock milliseconds since the Unix epoch: the clock of capability
// expiry and of write leases.
int64_t UnixNowMs();

// `n` bytes from the OpenSSL CSPRNG.
std::string RandomBytes(size_t n);
std::string HmacSha256(std::string_view key, std::string_view data);
// Compares in time independent of where they differ.
bool SecretsEqual(std::string_view a, std::string_view b);
std::string ToHex(std::string_view bytes);
// InvalidArgument unless `hex` is an even number of hex digits.
Result<std::string> FromHex(std::string_view hex);

// Reads a secret file: hex digits (whitespace around them ignored) decoding
// to kSecretBytes. Refused when the file can be read or written by group or
// others (a secret must be mode 0600 or stricter), so a careless copy is
// noticed before it is used.
Result<std::string> ReadSecretFile(const std::string& path);

// The handshake's proofs (common/ddbfs.thrift, AuthenticateRequest).
// `service` is "meta" or "chunk".
std::string AuthProof(std::string_view secret, bool from_server, std::string_view service,
                      std::string_view nonce, std::string_view client_nonce,
                      std::string_view key_id);

// Signs and checks capabilities. The key is derived from the cluster key, so
// every server of a cluster has it and no client does.
class CapabilityKey {
 public:
  CapabilityKey() = default;
  explicit CapabilityKey(std::string_view cluster_secret);
  bool valid() const { return !key_.empty(); }
  int32_t key_id() const { return key_id_; }

  // Fills cap->key_id and cap->mac.
  void Sign(rpc::Capability* cap) const;

  // OK when `cap` carries this key's valid MAC, allows `op` (CAP_READ or
  // CAP_WRITE) on chunk_id at exactly `version`, and has not expired at
  // now_ms - skew_ms. Otherwise kPermissionDenied, or kCapabilityExpired
  // when only the time window is wrong.
  Status Check(const rpc::Capability& cap, int64_t chunk_id, int64_t version, int32_t op,
               int64_t now_ms, int64_t skew_ms) const;

 private:
  std::string Mac(const rpc::Capability& cap) const;
  std::string key_;
  int32_t key_id_ = 0;
};

// Signs and checks a chunk server's proof of a replica's SHA-256
// (rpc::ChunkHashProof, docs/content_hash.md). The key is derived from the
// cluster key: chunk servers sign, the metaserver checks, no client can make
// a proof.
class HashProofKey {
 public:
  HashProofKey() = default;
  explicit HashProofKey(std::string_view cluster_secret);
  bool valid() const { return !key_.empty(); }

  // Fills proof->key_id and proof->mac.
  void Sign(rpc::ChunkHashProof* proof) const;
  // True when `proof` carries this key's valid MAC and a 32-byte hash.
  bool Verify(const rpc::ChunkHashProof& proof) const;

 private:
  std::string Mac(const rpc::ChunkHashProof& proof) const;
  std::string key_;
  int32_t key_id_ = 0;
};

}  // namespace ddbfs

namespace ddbfs {

// The server side of one connection's handshake.
class ServerHandshake {
 public:
  // A fresh nonce for HelloResponse; any earlier one is forgotten.
  const std::string& Hello();
  // Checks `req` against `secret` (the key named by req.key_id) and the
  // nonce of the last Hello, which is used up either way. On success
  // *server_proof is what the client expects back. kUnauthenticated with a
  // reason otherwise.
  Status Verify(const rpc::AuthenticateRequest& req, std::string_view service,
                std::string_view secret, std::string* server_proof);

 private:
  std::string nonce_;
};

}  // namespace ddbfs
