#include "ddbfs/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace ddbfs {

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // Without randomness nothing here is safe; this never happens on Linux.
    std::abort();
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

bool SecretsEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return InvalidArgument("odd number of hex digits");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]);
    int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("not a hex digit");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return InvalidArgument("cannot read key file " + path + " (" + std::strerror(errno) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return Status(ErrorCode::kPermissionDenied,
                  "key file " + path + " is readable by other users (mode " +
                      std::to_string((st.st_mode >> 6) & 7) +
                      std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                      "): chmod 600 it");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return InvalidArgument("cannot read key file " + path);
  std::string hex;
  for (char c : text.str()) {
    if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  }
  Result<std::string> secret = FromHex(hex);
  if (!secret.ok() || secret->size() != kSecretBytes) {
    return InvalidArgument("key file " + path + " does not hold " +
                           std::to_string(kSecretBytes * 2) + " hex digits");
  }
  return secret;
}

std::string AuthProof(std::string_view secret, bool from_server, std::string_view service,
                      std::string_view nonce, std::string_view client_nonce,
                      std::string_view key_id) {
  std::string data(from_server ? "ddbfs-auth-v1 server" : "ddbfs-auth-v1 client");
  for (std::string_view part : {service, nonce, client_nonce, key_id}) {
    data.push_back('\0');
    data.append(part);
  }
  return HmacSha256(secret, data);
}

namespace {
void Put64(std::string* out, int64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
void Put32(std::string* out, int32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff));
}
}  // namespace

CapabilityKey::CapabilityKey(std::string_view cluster_secret)
    : key_(HmacSha256(cluster_secret, "ddbfs capability key v1")) {
  const std::string id = HmacSha256(key_, "key id");
  key_id_ = static_cast<int32_t>((static_cast<uint32_t>(static_cast<unsigned char>(id[0])) << 24 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[1])) << 16 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[2])) << 8 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[3]))) &
                                 0x7fffffff);
}

std::string CapabilityKey::Mac(const rpc::Capability& cap) const {
  std::string data("ddbfs-cap-v1");
  Put64(&data, cap.chunk_id);
  Put64(&data, cap.version);
  Put32(&data, cap.ops);
  Put64(&data, cap.expires_ms);
  Put32(&data, static_cast<int32_t>(cap.chain.size()));
  for (const rpc::ServerAddress& a : cap.chain) {
    Put32(&data, a.server_id);
    Put32(&data, static_cast<int32_t>(a.host.size()));
    data.append(a.host);
    Put32(&data, a.port);
  }
  Put32(&data, cap.key_id);
  return HmacSha256(key_, data);
}

void CapabilityKey::Sign(rpc::Capability* cap) const {
  cap->key_id = key_id_;
  cap->mac = Mac(*cap);
}

Status CapabilityKey::Check(const rpc::Capability& cap, int64_t chunk_id, int64_t version,
                            int32_t op, int64_t now_ms, int64_t skew_ms) const {
  if (!valid()) return Internal("no capability key");
  if (cap.key_id != key_id_ || !SecretsEqual(cap.mac, Mac(cap))) {
    return Status(ErrorCode::kPermissionDenied,
                  "capability refused: not signed by this cluster's metaserver");
  }
  if (cap.chunk_id != chunk_id || cap.version != version || (cap.ops & op) != op) {
    return Status(ErrorCode::kPermissionDenied,
                  "capability refused: it is for chunk " + std::to_string(cap.chunk_id) +
                      " version " + std::to_string(cap.version) + " ops " +
                      std::to_string(cap.ops) + ", not chunk " + std::to_string(chunk_id) +
                      " version " + std::to_string(version) + " op " + std::to_string(op));
  }
  if (now_ms - skew_ms > cap.expires_ms) {
    return Status(ErrorCode::kCapabilityExpired,
                  "capability for chunk " + std::to_string(chunk_id) + " expired " +
                      std::to_string(now_ms - cap.expires_ms) + " ms ago");
  }
  return Status();
}

HashProofKey::HashProofKey(std::string_view cluster_secret)
    : key_(HmacSha256(cluster_secret, "ddbfs content hash proof key v1")) {
  const std::string id = HmacSha256(key_, "key id");
  key_id_ = static_cast<int32_t>((static_cast<uint32_t>(static_cast<unsigned char>(id[0])) << 24 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[1])) << 16 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[2])) << 8 |
                                  static_cast<uint32_t>(static_cast<unsigned char>(id[3]))) &
                                 0x7fffffff);
}

std::string HashProofKey::Mac(const rpc::ChunkHashProof& p) const {
  std::string data("ddbfs-hash-v1");
  Put32(&data, p.server_id);
  Put64(&data, p.session);
  Put64(&data, p.chunk_id);
  Put64(&data, p.version);
  Put64(&data, p.length);
  Put32(&data, static_cast<int32_t>(p.sha256.size()));
  data.append(p.sha256);
  Put32(&data, p.key_id);
  return HmacSha256(key_, data);
}

void HashProofKey::Sign(rpc::ChunkHashProof* proof) const {
  proof->key_id = key_id_;
  proof->mac = Mac(*proof);
}

bool HashProofKey::Verify(const rpc::ChunkHashProof& proof) const {
  return valid() && proof.key_id == key_id_ && proof.sha256.size() == 32 &&
         SecretsEqual(proof.mac, Mac(proof));
}

}  // namespace ddbfs

namespace ddbfs {

const std::string& ServerHandshake::Hello() {
  nonce_ = RandomBytes(kNonceBytes);
  return nonce_;
}

Status ServerHandshake::Verify(const rpc::AuthenticateRequest& req, std::string_view service,
                               std::string_view secret, std::string* server_proof) {
  const std::string nonce = std::move(nonce_);
  nonce_.clear();
  if (nonce.empty()) {
    return Status(ErrorCode::kUnauthenticated, "Authenticate without a Hello first");
  }
  if (req.client_nonce.size() != kNonceBytes) {
    return Status(ErrorCode::kUnauthenticated,
                  "client nonce must be " + std::to_string(kNonceBytes) + " bytes");
  }
  const std::string expected =
      AuthProof(secret, false, service, nonce, req.client_nonce, req.key_id);
  if (!SecretsEqual(req.proof, expected)) {
    return Status(ErrorCode::kUnauthenticated, "wrong key for '" + req.key_id + "'");
  }
  *server_proof = AuthProof(secret, true, service, nonce, req.client_nonce, req.key_id);
  return Status();
}

}  // namespace ddbfs
