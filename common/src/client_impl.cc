#include "client_impl.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>
#include <thread>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"

namespace ddbfs {

namespace {

thread_local int t_meta_retry_ms = -1;  // Client::RetryingFor; -1: the options'

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// When the metaserver answered "unavailable" (it waits for the chunk
// servers after a start, or for its lock): its answers are cheap, and what
// it waits for usually takes well under a second.
constexpr auto kMaxAnsweredBackoff = std::chrono::milliseconds(250);

// Thrift's transport texts ("connect() failed: Connection refused",
// "No more data to read.") as a short lower-case reason.
std::string ShortReason(const std::string& error) {
  std::string text = error;
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open != std::string::npos && close != std::string::npos && close > open) {
    text = text.substr(open + 1, close - open - 1);
  }
  if (text.find("EAGAIN") != std::string::npos || text.find("timed out") != std::string::npos) {
    return "timed out";
  }
  if (text.find("No more data") != std::string::npos) return "connection closed";
  auto colon = text.rfind(": ");
  if (colon != std::string::npos) text = text.substr(colon + 2);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// 16 random bytes: a client id that no other client instance picks.
std::string NewClientId() {
  std::random_device random;
  std::string id(16, '\0');
  for (size_t i = 0; i < id.size(); i += 4) {
    const uint32_t word = random();
    for (size_t j = 0; j < 4; ++j) id[i + j] = static_cast<char>((word >> (8 * j)) & 0xff);
  }
  return id;
}

}  // namespace

Client::Impl::Impl(ClientOptions opts, const std::vector<Endpoint>& metas,
                   std::shared_ptr<const Transport> transport_config)
    : options(std::move(opts)),
      transport(std::move(transport_config)),
      meta(metas, options.rpc_timeout_ms, 16, transport),
      client_id_(NewClientId()) {}

std::string Client::Impl::UnreachableMessage(const std::string& transport_error) const {
  return "cannot reach metaserver at " + meta.address() + " (" + ShortReason(transport_error) +
         ") — is it running? see ./scripts/cluster status";
}

Status Client::Impl::MetaLoop(std::string_view what,
                              const std::function<void(rpc::MetaServiceClient&)>& rpc,
                              const std::function<Status()>& answer) {
  const int retry_ms = t_meta_retry_ms >= 0 ? t_meta_retry_ms : options.meta_retry_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  auto backoff = kFirstBackoff;
  for (int attempt = 1;; ++attempt) {
    size_t used = 0;
    const auto attempt_began = std::chrono::steady_clock::now();
    Status transport = meta.Call(rpc, /*retry=*/true, &used);
    Status s = transport.ok() ? answer() : transport;
    if (s.code() != ErrorCode::kUnavailable && s.code() != ErrorCode::kTimedOut) return s;
    // A metaserver that answers "unavailable" may have lost the active
    // lock: the next attempt starts at the next address.
    if (transport.ok() && s.code() == ErrorCode::kUnavailable) meta.MoveOn(used);
    if (std::chrono::steady_clock::now() + backoff >= deadline) {
      if (!transport.ok()) return Unavailable(UnreachableMessage(transport.message()));
      return s;
    }
    if (attempt == 1) {
      LOG(kWarn) << what << ": metaserver unavailable (" << s.message() << "); retrying for up to "
                 << retry_ms << " ms";
    }
    // The backoff counts from the attempt's start: one that waited out an
    // unreachable address's timeout has waited already.
    const bool answered_unavailable = transport.ok() && s.code() == ErrorCode::kUnavailable;
    std::this_thread::sleep_until(
        attempt_began + (answered_unavailable ? std::min(backoff, kMaxAnsweredBackoff) : backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

ChunkPool& Client::Impl::Chunk(const rpc::ServerAddress& address) {
  std::string key = AddressOf(address);
  std::lock_guard<std::mutex> lock(chunk_mu_);
  auto& pool = chunk_pools_[key];
  if (!pool) {
    // Chunk servers are reached with TLS when it is on, but without the
    // metaserver key: capabilities authorize each request.
    pool = std::make_unique<ChunkPool>(address.host, address.port, options.rpc_timeout_ms, 16,
                                       chunk_transport);
  }
  return *pool;
}

namespace {
// The identity of Client::ActingAs on this thread (nullptr: the options').
thread_local const Caller* t_acting_as = nullptr;
}  // namespace

Client::ActingAs::ActingAs(const Caller& caller) : previous_(t_acting_as), caller_(caller) {
  t_acting_as = &caller_;
}

Client::ActingAs::~ActingAs() { t_acting_as = previous_; }

namespace {
// Client::DeclaringOpen on this thread (0: none), and whether an answer
// asked for the whole open set.
thread_local int64_t t_declaring_open = 0;
thread_local bool t_open_set_needed = false;
}  // namespace

Client::DeclaringOpen::DeclaringOpen(int64_t session)
    : previous_(t_declaring_open), previous_needed_(t_open_set_needed) {
  t_declaring_open = session;
  t_open_set_needed = false;
}

Client::DeclaringOpen::~DeclaringOpen() {
  t_declaring_open = previous_;
  t_open_set_needed = previous_needed_ || t_open_set_needed;
}

bool Client::DeclaringOpen::open_set_needed() const { return t_open_set_needed; }

int64_t Client::Impl::DeclaringSession() { return t_declaring_open; }

void Client::Impl::NoteOpenSetNeeded(bool needed) {
  if (needed) t_open_set_needed = true;
}

Client::RetryingFor::RetryingFor(int ms) : previous_(t_meta_retry_ms) { t_meta_retry_ms = ms; }

Client::RetryingFor::~RetryingFor() { t_meta_retry_ms = previous_; }

rpc::RequestContext Client::Impl::ReadContext() const {
  rpc::RequestContext ctx;
  const Caller& caller = t_acting_as != nullptr ? *t_acting_as : options.caller;
  ctx.uid = static_cast<int32_t>(caller.uid);
  ctx.gid = static_cast<int32_t>(caller.gid);
  if (!caller.groups.empty()) {
    std::vector<int32_t> groups;
    for (uint32_t g : caller.groups) groups.push_back(static_cast<int32_t>(g));
    ctx.__set_groups(std::move(groups));
  }
  if (caller.umask) ctx.__set_umask(static_cast<int32_t>(*caller.umask & 0777u));
  ctx.__set_timeout_ms(options.rpc_timeout_ms);
  return ctx;
}

rpc::RequestContext Client::Impl::Context() {
  rpc::RequestContext ctx = ReadContext();
  ctx.__set_client_id(client_id_);
  ctx.__set_seq(last_seq_.fetch_add(1) + 1);
  return ctx;
}

Status Client::Impl::GetChunks(InodeId inode, int64_t first, int count, bool all_replicas,
                               rpc::GetChunksResponse* out) {
  rpc::GetChunksRequest req;
  req.__set_ctx(ReadContext());
  req.inode = inode;
  req.first_index = first;
  req.count = count;
  req.all_replicas = all_replicas;
  if (const int64_t session = DeclaringSession(); session != 0) req.__set_open_session(session);
  RETURN_IF_ERROR(
      Meta("GetChunks", out, [&](rpc::MetaServiceClient& c, auto& r) { c.GetChunks(r, req); }));
  NoteOpenSetNeeded(out->__isset.open_set_needed && out->open_set_needed);
  auto& chunks = out->chunks;
  chunks.erase(std::remove_if(chunks.begin(), chunks.end(),
                              [&](const rpc::ChunkInfo& c) {
                                return c.index < first || c.index >= first + count;
                              }),
               chunks.end());
  return Status();
}

void Client::Impl::ReportBadReplica(int64_t chunk_id, int server_id, ErrorCode reason) {
  rpc::ReportBadReplicaRequest req;
  req.__set_ctx(ReadContext());
  req.chunk_id = chunk_id;
  req.server_id = server_id;
  req.reason = static_cast<rpc::ErrorCode::type>(static_cast<int>(reason));
  rpc::ReportBadReplicaResponse resp;
  Status s = Meta("ReportBadReplica", &resp,
                  [&](rpc::MetaServiceClient& c, auto& r) { c.ReportBadReplica(r, req); });
  if (!s.ok()) {
    LOG(kWarn) << "could not report bad replica of chunk " << chunk_id << " on server " << server_id
               << ": " << s;
  }
}

Attr FromRpc(const rpc::Attr& a) {
  Attr out;
  out.inode = a.inode;
  out.type = static_cast<FileType>(static_cast<int>(a.type));
  out.mode = static_cast<uint32_t>(a.mode) & 07777;
  out.uid = static_cast<uint32_t>(a.uid);
  out.gid = static_cast<uint32_t>(a.gid);
  out.size = static_cast<uint64_t>(std::max<int64_t>(a.size, 0));
  out.atime_ns = a.atime_ns;
  out.mtime_ns = a.mtime_ns;
  out.ctime_ns = a.ctime_ns;
  out.nlink = static_cast<uint32_t>(a.nlink);
  out.goal = a.goal;
  out.rdev = static_cast<uint64_t>(a.rdev);
  out.allocated = static_cast<uint64_t>(std::max<int64_t>(a.allocated, 0));
  out.has_xattrs = !a.__isset.has_xattrs || a.has_xattrs;
  return out;
}

std::string AddressOf(const rpc::ServerAddress& a) { return a.host + ":" + std::to_string(a.port); }

ChunkView ToView(const rpc::ChunkInfo& c) {
  ChunkView v;
  v.index = c.index;
  v.chunk_id = c.chunk_id;
  v.version = c.version;
  v.length = static_cast<uint64_t>(std::max<int64_t>(c.length, 0));
  for (const auto& r : c.replicas) {
    ReplicaView rv;
    rv.server_id = r.address.server_id;
    rv.address = AddressOf(r.address);
    rv.label = r.label;
    rv.version = r.version;
    rv.alive = r.alive;
    rv.current = r.version == c.version;
    v.replicas.push_back(std::move(rv));
  }
  return v;
}

Status CheckName(std::string_view name) {
  if (name.empty()) return InvalidArgument("empty file name");
  if (name == "." || name == "..") {
    return InvalidArgument("'" + std::string(name) + "' cannot be used as a file name");
  }
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return InvalidArgument("file name '" + std::string(name) + "' contains '/' or NUL");
  }
  if (name.size() > kMaxNameLength) {
    return Status(ErrorCode::kNameTooLong, "name too long (" + std::to_string(name.size()) +
                                               " bytes; the limit is " +
                                               std::to_string(kMaxNameLength) +
                                               "): " + std::string(name.substr(0, 40)) + "...");
  }
  return Status();
}

std::string DescribeFailures(const std::vector<std::pair<rpc::ServerAddress, Status>>& failures) {
  std::string out;
  for (const auto& [address, status] : failures) {
    if (!out.empty()) out += "; ";
    out += "server " + std::to_string(address.server_id) + " at " + AddressOf(address) + ": " +
           status.ToString();
  }
  return out.empty() ? "no replica listed" : out;
}

ChainOutcome SendAlongChain(Client::Impl* impl, const std::vector<rpc::ServerAddress>& replicas,
                            const ChainSend& send) {
  ChainOutcome out;
  for (size_t head = 0; head < replicas.size(); ++head) {
    std::vector<rpc::ServerAddress> chain(replicas.begin() + static_cast<long>(head) + 1,
                                          replicas.end());
    std::vector<rpc::ReplicaResult> results;
    Status own;
    Status call = impl->Chunk(replicas[head]).Call([&](rpc::ChunkServiceClient& c) {
      results.clear();
      send(c, chain, &results, &own);
    });
    if (!call.ok()) {
      // The head is unreachable (or broke the protocol): nothing is known
      // about its chain, so try again with the next replica as head.
      out.failed.emplace_back(replicas[head], call);
      continue;
    }
    for (size_t i = head; i < replicas.size(); ++i) {
      const rpc::ServerAddress& r = replicas[i];
      const rpc::ReplicaResult* found = nullptr;
      for (const auto& res : results) {
        if (res.server_id == r.server_id) found = &res;
      }
      Status s;
      if (found) {
        s = FromRpc(found->status);
      } else if (i == head) {
        s = own;
      } else {
        s = Unavailable("no answer through the replica chain");
      }
      if (s.ok()) {
        out.ok.push_back(r);
      } else {
        out.failed.emplace_back(r, s);
      }
    }
    return out;
  }
  return out;
}

}  // namespace ddbfs
