#include "metaserver/service/security.h"

#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

constexpr uint32_t kNobody = 65534;

// An address as 4 or 16 bytes; IPv4-mapped IPv6 addresses become IPv4.
bool ParseIp(const std::string& text, std::string* bytes) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    bytes->assign(reinterpret_cast<char*>(buf), 4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(buf, kMapped, 12) == 0) {
      bytes->assign(reinterpret_cast<char*>(buf + 12), 4);
    } else {
      bytes->assign(reinterpret_cast<char*>(buf), 16);
    }
    return true;
  }
  return false;
}

bool ParseNetwork(const std::string& cidr, std::string* bytes, int* prefix) {
  const auto slash = cidr.find('/');
  if (!ParseIp(cidr.substr(0, slash), bytes)) return false;
  const int max = static_cast<int>(bytes->size()) * 8;
  *prefix = max;
  if (slash == std::string::npos) return true;
  const char* begin = cidr.data() + slash + 1;
  const char* end = cidr.data() + cidr.size();
  auto [ptr, ec] = std::from_chars(begin, end, *prefix);
  return ec == std::errc() && ptr == end && begin != end && *prefix >= 0 && *prefix <= max;
}

}  // namespace

Status ValidateNetwork(const std::string& cidr) {
  std::string bytes;
  int prefix = 0;
  if (!ParseNetwork(cidr, &bytes, &prefix)) {
    return InvalidArgument("'" + cidr + "' is not a network (want e.g. 10.1.0.0/16 or ::1/128)");
  }
  return Status();
}

bool AddressInNetworks(const std::string& address, const std::vector<std::string>& networks) {
  if (networks.empty()) return true;
  std::string ip;
  if (!ParseIp(address, &ip)) return false;
  for (const std::string& n : networks) {
    std::string net;
    int prefix = 0;
    if (!ParseNetwork(n, &net, &prefix) || net.size() != ip.size()) continue;
    bool match = true;
    for (int bit = 0; bit < prefix && match; bit += 8) {
      const int bits = std::min(8, prefix - bit);
      const auto mask = static_cast<unsigned char>(0xff << (8 - bits));
      match = (static_cast<unsigned char>(ip[bit / 8]) & mask) ==
              (static_cast<unsigned char>(net[bit / 8]) & mask);
    }
    if (match) return true;
  }
  return false;
}

// ---------------------------------------------------------------- KeyRegistry

KeyRegistry::KeyRegistry(OpContext& ctx, std::chrono::milliseconds refresh)
    : ctx_(ctx), refresh_(refresh) {}

KeyRegistry::~KeyRegistry() { Stop(); }

Status KeyRegistry::Load() {
  std::vector<store::ExportKeyRecord> keys;
  RETURN_IF_ERROR(ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(keys, store::LoadExportKeys(tx));
    return Status();
  }));
  std::map<std::string, std::shared_ptr<const store::ExportKeyRecord>> fresh;
  for (auto& k : keys) {
    const std::string id = k.key_id;
    fresh[id] = std::make_shared<const store::ExportKeyRecord>(std::move(k));
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_ = std::move(fresh);
  return Status();
}

void KeyRegistry::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void KeyRegistry::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void KeyRegistry::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, refresh_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (Status s = Load(); !s.ok()) {
      LOG(kWarn) << "cannot reload the export keys: " << s;
    }
    lock.lock();
  }
}

std::shared_ptr<const store::ExportKeyRecord> KeyRegistry::Find(const std::string& key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end() || it->second->revoked_ms) return nullptr;
  return it->second;
}

Result<store::ExportKeyRecord> KeyRegistry::Add(store::ExportKeyRecord key) {
  key.key_id = "k" + ToHex(RandomBytes(6));
  key.secret = RandomBytes(kSecretBytes);
  key.created_ms = UnixNowMs();
  key.revoked_ms.reset();
  RETURN_IF_ERROR(ctx_.writer.Run([&](store::Tx& tx) { return store::InsertExportKey(tx, key); }));
  std::lock_guard<std::mutex> lock(mu_);
  keys_[key.key_id] = std::make_shared<const store::ExportKeyRecord>(key);
  return key;
}

Status KeyRegistry::Revoke(const std::string& key_id) {
  const int64_t now = UnixNowMs();
  RETURN_IF_ERROR(
      ctx_.writer.Run([&](store::Tx& tx) { return store::RevokeExportKey(tx, key_id, now); }));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key_id);
  if (it != keys_.end() && !it->second->revoked_ms) {
    auto revoked = std::make_shared<store::ExportKeyRecord>(*it->second);
    revoked->revoked_ms = now;
    it->second = std::move(revoked);
  }
  return Status();
}

std::vector<store::ExportKeyRecord> KeyRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<store::ExportKeyRecord> out;
  for (const auto& [id, k] : keys_) out.push_back(*k);
  return out;
}

// -------------------------------------------------------------------- Session

namespace {

// uid's primary and supplementary groups in this host's group database;
// just `gid` when the uid has no passwd entry.
Caller LocalCaller(uint32_t uid, uint32_t gid) {
  Caller c;
  c.uid = uid;
  c.gid = gid;
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return c;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return c;
  }
  groups.resize(static_cast<size_t>(n));
  for (gid_t g : groups) {
    if (g != gid) c.groups.push_back(g);
  }
  return c;
}

}  // namespace

Session::Session(PeerInfo peer) : peer_(std::move(peer)) {
  if (peer_.unix_socket) {
    kind_ = Kind::kPeer;
    peer_caller_ = LocalCaller(peer_.uid, peer_.gid);
  }
}

std::string Session::Describe() const {
  switch (kind_) {
    case Kind::kPeer:
      return "uid " + std::to_string(peer_caller_.uid) + " (local peer)";
    case Kind::kCluster:
      return "cluster member at " + peer_.address;
    case Kind::kKey:
      return "key " + key_id_ + " at " + peer_.address;
    case Kind::kNone:
      break;
  }
  return "unauthenticated peer at " + peer_.address;
}

std::string Session::Owner() const {
  switch (kind_) {
    case Kind::kPeer:
      return "uid:" + std::to_string(peer_caller_.uid);
    case Kind::kCluster:
      return "cluster";
    case Kind::kKey:
      return "key:" + key_id_;
    case Kind::kNone:
      break;
  }
  return "";
}

void Session::Hello(const MetaSecurity&, rpc::HelloResponse* resp) {
  resp->status = RpcOk();
  resp->nonce = handshake_.Hello();
  resp->authenticated = authenticated();
  if (authenticated()) resp->principal = Describe();
}

void Session::Authenticate(const MetaSecurity& security, const rpc::AuthenticateRequest& req,
                           rpc::AuthenticateResponse* resp) {
  Status s;
  std::shared_ptr<const store::ExportKeyRecord> key;
  if (req.key_id == kClusterKeyId) {
    s = handshake_.Verify(req, "meta", security.cluster_secret, &resp->server_proof);
  } else {
    if (security.keys) key = security.keys->Find(req.key_id);
    if (!key) {
      handshake_.Hello();  // a failed attempt uses up the nonce too
      s = Status(ErrorCode::kUnauthenticated,
                 "unknown or revoked key '" + req.key_id + "' (ddbfs key list shows the keys)");
    } else if (!AddressInNetworks(peer_.address, key->networks)) {
      handshake_.Hello();
      s = Status(ErrorCode::kUnauthenticated,
                 "key '" + req.key_id + "' may not connect from " + peer_.address);
    } else {
      s = handshake_.Verify(req, "meta", key->secret, &resp->server_proof);
    }
  }
  if (!s.ok()) {
    LOG(kWarn) << "authentication from " << peer_.address << " refused: " << s.message();
    resp->status = ToRpc(s);
    return;
  }
  if (key) {
    kind_ = Kind::kKey;
    key_id_ = key->key_id;
  } else {
    kind_ = Kind::kCluster;
  }
  resp->status = RpcOk();
  resp->principal = Describe();
}

namespace {
// The identity a fully trusted connection's request names; `caller` is kept
// when it names none (or a negative one).
void AssertedIdentity(const rpc::RequestContext* rc, Caller* caller) {
  if (rc == nullptr || rc->uid < 0 || rc->gid < 0) return;
  if (static_cast<uint32_t>(rc->uid) == caller->uid &&
      static_cast<uint32_t>(rc->gid) == caller->gid && rc->groups.empty()) {
    return;  // itself, with the groups the host knows
  }
  caller->uid = static_cast<uint32_t>(rc->uid);
  caller->gid = static_cast<uint32_t>(rc->gid);
  caller->groups.clear();
  for (int32_t g : rc->groups) {
    if (g >= 0 && caller->groups.size() < 64) caller->groups.push_back(static_cast<uint32_t>(g));
  }
}
}  // namespace

Result<Access> Session::Authorize(const MetaSecurity& security,
                                  const rpc::RequestContext* rc) const {
  Access a;
  a.principal = Describe();
  a.owner = Owner();
  switch (kind_) {
    case Kind::kNone:
      return Status(ErrorCode::kUnauthenticated,
                    "this connection has not authenticated (Hello + Authenticate with a key, or "
                    "connect over the metaserver's Unix socket; docs/security.md)");
    case Kind::kPeer:
      a.caller = peer_caller_;
      a.server = a.admin = peer_caller_.uid == 0;
      // Root on this host may act for any local user (a root mount serving
      // its users, Client::ActingAs): the request's identity counts.
      if (peer_caller_.uid == 0) AssertedIdentity(rc, &a.caller);
      return a;
    case Kind::kCluster:
      // Fully trusted: runs as the identity the request names (root if none).
      a.server = a.admin = true;
      AssertedIdentity(rc, &a.caller);
      return a;
    case Kind::kKey:
      break;
  }
  std::shared_ptr<const store::ExportKeyRecord> key;
  if (security.keys) key = security.keys->Find(key_id_);
  if (!key) {
    return Status(ErrorCode::kUnauthenticated,
                  "key '" + key_id_ + "' was revoked; ask the cluster's admin for a new one");
  }
  a.admin = key->admin;
  a.read_only = key->read_only;
  a.subtree = key->subtree;
  a.root = root_;
  if (key->mapall) {
    a.caller.uid = key->map_uid;
    a.caller.gid = key->map_gid;
  } else if (rc == nullptr) {
    a.caller.uid = a.caller.gid = kNobody;
  } else if (rc->uid < 0 || rc->gid < 0) {
    return InvalidArgument("uid and gid must be >= 0");
  } else if (rc->uid == 0) {
    a.caller.uid = key->maproot_uid;
    a.caller.gid = key->maproot_gid;
  } else {
    a.caller.uid = static_cast<uint32_t>(rc->uid);
    a.caller.gid = static_cast<uint32_t>(rc->gid);
    if (rc->__isset.groups) {
      const size_t n = std::min<size_t>(rc->groups.size(), 64);  // NGROUPS of NFS AUTH_SYS: 16
      for (size_t i = 0; i < n; ++i)
        a.caller.groups.push_back(static_cast<uint32_t>(rc->groups[i]));
    }
  }
  return a;
}

}  // namespace ddbfs::meta
