#include "test_cluster.h"

#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "pg_instance.h"
#include "test_keys.h"

namespace ddbfs::testing {

namespace {
constexpr auto kStartTimeout = std::chrono::seconds(60);

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

std::unique_ptr<TestCluster> TestCluster::Start(const ClusterOptions& o) {
  std::unique_ptr<TestCluster> c(new TestCluster());
  c->options_ = o;
  c->db_url_ = PgInstance::Shared().NewDatabaseUrl();
  c->metas_.resize(1 + static_cast<size_t>(std::max(0, o.standby_metaservers)));
  for (Metaserver& m : c->metas_) m.port = FreePort();
  c->key_file_ = WriteClusterKey(c->dir());
  if (o.tls) {
    auto made =
        RunCommand({std::string(DDBFS_SOURCE_DIR) + "/scripts/tls-certs", c->dir() + "/tls"}, "",
                   std::chrono::seconds(60));
    if (made.exit_code != 0) {
      ADD_FAILURE() << "tls-certs failed: " << made.out << made.err;
      return nullptr;
    }
  }
  for (int i = 0; i < c->metaserver_count(); ++i) {
    if (!c->StartMetaserverProcess(i, /*serving=*/i == 0)) return nullptr;
  }
  for (int i = 0; i < o.chunk_servers; ++i) {
    ChunkServer cs;
    cs.port = FreePort();
    cs.label = i < static_cast<int>(o.labels.size()) ? o.labels[i] : "host" + std::to_string(i + 1);
    if (i < static_cast<int>(o.racks.size())) cs.rack = o.racks[i];
    if (i < static_cast<int>(o.chunk_hosts.size())) cs.host = o.chunk_hosts[i];
    if (i < static_cast<int>(o.chunk_wrappers.size())) cs.wrapper = o.chunk_wrappers[i];
    cs.data_dir = c->dir() + "/chunk" + std::to_string(i + 1);
    std::filesystem::create_directories(cs.data_dir);
    if (o.data_tmpfs_mib > 0) {
      std::string size = "size=" + std::to_string(o.data_tmpfs_mib) + "m";
      if (::mount("tmpfs", cs.data_dir.c_str(), "tmpfs", 0, size.c_str()) != 0) {
        ADD_FAILURE() << "mount tmpfs on " << cs.data_dir << ": " << std::strerror(errno);
        return nullptr;
      }
      cs.tmpfs = true;
    }
    c->chunks_.push_back(std::move(cs));
    if (!c->StartChunkServerProcess(i)) return nullptr;
  }
  if (!c->WaitForAliveServers(o.chunk_servers, 30000)) {
    ADD_FAILURE() << "chunk servers did not all register; metaserver log:\n"
                  << c->metas_[0].process->LogTail();
    return nullptr;
  }
  return c;
}

TestCluster::~TestCluster() {
  for (auto& cs : chunks_) {
    if (cs.process) cs.process->Stop(SIGKILL);
    if (cs.tmpfs) ::umount2(cs.data_dir.c_str(), MNT_DETACH);
  }
  for (auto& m : metas_) {
    if (m.process) m.process->Stop(SIGKILL);
  }
}

std::string TestCluster::bin(const std::string& program) const {
  return std::string(DDBFS_BINARY_DIR) + "/bin/" + program;
}

std::string TestCluster::meta_socket_address(int i) const {
  return "unix:" + dir() + (i == 0 ? "/meta.sock" : "/meta" + std::to_string(i + 1) + ".sock");
}

const std::string& TestCluster::meta_host(int i) const {
  return i == 0 && !options_.meta0_host.empty() ? options_.meta0_host : options_.meta_host;
}

std::string TestCluster::meta_tcp_address(int i) const {
  return meta_host(i) + ":" + std::to_string(metas_.at(i).port);
}

std::string TestCluster::meta_address() const {
  std::string out;
  for (int i = 0; i < metaserver_count(); ++i) {
    out += (i == 0 ? "" : ",") + meta_socket_address(i);
  }
  return out;
}

std::string TestCluster::meta_tcp_address() const {
  std::string out;
  for (int i = 0; i < metaserver_count(); ++i) out += (i == 0 ? "" : ",") + meta_tcp_address(i);
  return out;
}

std::shared_ptr<const Transport> TestCluster::cluster_transport() const {
  return ClusterTransport(key_file_, client_tls());
}

TlsOptions TestCluster::client_tls() const {
  TlsOptions t;
  if (options_.tls) {
    t.enabled = true;
    t.ca_file = dir() + "/tls/ca.pem";
  }
  return t;
}

std::vector<std::string> TestCluster::SecurityArgs() const {
  std::vector<std::string> args{"--cluster-key-file", key_file_};
  if (options_.tls) {
    for (const std::string& a :
         {std::string("--tls"), std::string("true"), std::string("--tls-ca"), dir() + "/tls/ca.pem",
          std::string("--tls-cert"), dir() + "/tls/server.pem", std::string("--tls-key"),
          dir() + "/tls/server.key"}) {
      args.push_back(a);
    }
  }
  return args;
}

std::string TestCluster::chunk_data_dir(int i) const { return chunks_.at(i).data_dir; }

std::string TestCluster::chunk_address(int i) const {
  return chunks_.at(i).host + ":" + std::to_string(chunks_.at(i).port);
}

std::vector<std::string> TestCluster::SessionArgs() const {
  if (options_.session_timeout_ms <= 0) return {};
  return {"--session-timeout-ms", std::to_string(options_.session_timeout_ms)};
}

void TestCluster::LaunchMetaserver(int i) {
  Metaserver& m = metas_.at(i);
  const std::string suffix = i == 0 ? "" : std::to_string(i + 1);
  std::string db = db_url_;
  if (i == 0 && !options_.meta0_db_host.empty()) {
    const size_t at = db.find("@127.0.0.1:");
    if (at != std::string::npos) db.replace(at + 1, 9, options_.meta0_db_host);
  }
  std::vector<std::string> args = Concat(
      Concat(
          std::vector<std::string>{
              "--listen", meta_tcp_address(i), "--unix-socket", meta_socket_address(i).substr(5),
              "--db", db, "--heartbeat-timeout-ms", std::to_string(options_.heartbeat_timeout_ms),
              "--lease-ms", std::to_string(options_.lease_ms), "--log-level", "info",
              "--chunk-retention-s", std::to_string(options_.chunk_retention_s),
              // Every cache hit of the writer is checked
              // against PostgreSQL.
              "--meta-cache-verify"},
          SessionArgs()),
      Concat(SecurityArgs(), options_.metaserver_args));
  const std::string log = dir() + "/metaserver" + suffix + ".log";
  if (i == 0 && !options_.meta0_wrapper.empty()) {
    const std::vector<std::string>& w = options_.meta0_wrapper;
    std::vector<std::string> wrapped(w.begin() + 1, w.end());
    wrapped.push_back(bin("ddbfs-metaserver"));
    m.process = std::make_unique<Process>(w.front(), Concat(wrapped, args), log);
  } else {
    m.process = std::make_unique<Process>(bin("ddbfs-metaserver"), args, log);
  }
}

bool TestCluster::StartMetaserverProcess(int i, bool serving) {
  LaunchMetaserver(i);
  Metaserver& m = metas_.at(i);
  if (serving && !WaitForPort(meta_host(i), m.port, kStartTimeout)) {
    ADD_FAILURE() << "metaserver " << i << " did not start listening; log:\n"
                  << m.process->LogTail();
    return false;
  }
  if (!serving && !WaitFor([&] { return m.process->Log().find("standby: ") != std::string::npos; },
                           kStartTimeout)) {
    ADD_FAILURE() << "metaserver " << i << " did not become a standby; log:\n"
                  << m.process->LogTail();
    return false;
  }
  return true;
}

bool TestCluster::StartChunkServerProcess(int i) {
  ChunkServer& cs = chunks_.at(i);
  if (!cs.wrapper.empty()) return StartWrappedChunkServer(i);
  cs.process = std::make_unique<Process>(
      bin("ddbfs-chunkserver"),
      Concat(std::vector<std::string>{"--listen", chunk_address(i), "--meta", ChunkServerMetaArg(),
                                      "--data", cs.data_dir, "--label", cs.label, "--log-level",
                                      "info"},
             Concat(SecurityArgs(), ChunkServerArgs(i))),
      dir() + "/chunkserver" + std::to_string(i + 1) + ".log");
  if (!WaitForPort(cs.host, cs.port, kStartTimeout)) {
    ADD_FAILURE() << "chunk server " << i << " did not start listening; log:\n"
                  << cs.process->LogTail();
    return false;
  }
  return true;
}

std::vector<std::string> TestCluster::ChunkServerArgs(int i) const {
  const ChunkServer& cs = chunks_.at(i);
  std::vector<std::string> args;
  if (!cs.rack.empty()) args = {"--rack", cs.rack};
  return Concat(Concat(args, options_.chunkserver_args), cs.args);
}

int TestCluster::AddChunkServer(const std::vector<std::string>& args) {
  const int i = chunk_server_count();
  ChunkServer cs;
  cs.port = FreePort();
  cs.label = "host" + std::to_string(i + 1);
  cs.args = args;
  cs.data_dir = dir() + "/chunk" + std::to_string(i + 1);
  std::filesystem::create_directories(cs.data_dir);
  chunks_.push_back(std::move(cs));
  if (!StartChunkServerProcess(i)) return -1;
  return i;
}

bool TestCluster::StartWrappedChunkServer(int i) {
  ChunkServer& cs = chunks_.at(i);
  std::vector<std::string> args(cs.wrapper.begin() + 1, cs.wrapper.end());
  args = Concat(
      args, {bin("ddbfs-chunkserver"), "--listen", chunk_address(i), "--meta", ChunkServerMetaArg(),
             "--data", cs.data_dir, "--label", cs.label, "--log-level", "info"});
  cs.process = std::make_unique<Process>(cs.wrapper.front(),
                                         Concat(args, Concat(SecurityArgs(), ChunkServerArgs(i))),
                                         dir() + "/chunkserver" + std::to_string(i + 1) + ".log");
  if (!WaitForPort(cs.host, cs.port, kStartTimeout)) {
    ADD_FAILURE() << "chunk server " << i << " did not start listening at " << chunk_address(i)
                  << " through " << cs.wrapper.front() << "; log:\n"
                  << cs.process->LogTail();
    return false;
  }
  return true;
}

std::unique_ptr<Client> TestCluster::NewClient() {
  ClientOptions opts;
  opts.meta_address = meta_address();
  opts.tls = client_tls();
  auto c = Client::Connect(opts);
  if (!c.ok()) {
    ADD_FAILURE() << "cannot connect a client: " << c.status();
    return nullptr;
  }
  return std::move(c).value();
}

bool TestCluster::WaitForAliveServers(int n, int timeout_ms) {
  auto client = NewClient();
  if (!client) return false;
  return WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        if (!st.ok()) return false;
        int alive = 0;
        for (const auto& s : st->servers) alive += s.alive ? 1 : 0;
        return alive == n;
      },
      std::chrono::milliseconds(timeout_ms));
}

int TestCluster::chunk_server_id(int i) {
  auto client = NewClient();
  if (!client) return -1;
  auto st = client->ClusterStatus();
  if (!st.ok()) return -1;
  for (const auto& s : st->servers) {
    if (s.address == chunk_address(i)) return s.server_id;
  }
  return -1;
}

bool TestCluster::chunk_server_running(int i) const {
  const auto& p = chunks_.at(i).process;
  return p && p->running();
}

void TestCluster::KillChunkServer(int i, int sig) {
  auto& p = chunks_.at(i).process;
  if (p) p->Stop(sig);
}

void TestCluster::StartChunkServer(int i) {
  KillChunkServer(i, SIGKILL);
  StartChunkServerProcess(i);
}

void TestCluster::StopMetaserver(int sig) { StopMetaserver(0, sig); }

void TestCluster::StartMetaserver() {
  StopMetaserver(0, SIGKILL);
  StartMetaserverProcess(0, /*serving=*/true);
}

void TestCluster::StopMetaserver(int i, int sig) {
  auto& p = metas_.at(i).process;
  if (p) p->Stop(sig);
}

void TestCluster::StartMetaserver(int i) {
  StopMetaserver(i, SIGKILL);
  LaunchMetaserver(i);
}

std::string TestCluster::ChunkServerMetaArg() const {
  // With standbys, the standbys first: every chunk server then also moves
  // past addresses that do not answer before it finds the active one.
  std::string out;
  for (int i = metaserver_count() - 1; i >= 0; --i) {
    out += (out.empty() ? "" : ",") + meta_tcp_address(i);
  }
  return out;
}

// The committed bytes [0, length) of one replica, read straight from its
// chunk server at the committed version (no failover), as a peer server.
Result<std::string> ReadReplica(TestCluster& cluster, const std::string& address,
                                const ChunkView& chunk) {
  return ReadReplica(cluster.cluster_transport(), address, chunk);
}

Result<std::string> ReadReplica(const std::shared_ptr<const Transport>& transport,
                                const std::string& address, const ChunkView& chunk) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(ParseHostPort(address, &host, &port));
  RpcConnection<rpc::ChunkServiceClient> conn(host, port, 10000, transport);
  std::string out;
  while (out.size() < chunk.length) {
    rpc::ReadChunkRequest req;
    req.chunk_id = chunk.chunk_id;
    req.version = chunk.version;
    req.offset = static_cast<int64_t>(out.size());
    req.length = static_cast<int32_t>(std::min<uint64_t>(kMaxIoSize, chunk.length - out.size()));
    rpc::ReadChunkResponse resp;
    RETURN_IF_ERROR(conn.Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(resp, req); }));
    RETURN_IF_ERROR(FromRpc(resp.status));
    if (resp.data.empty()) return IoError("short replica");
    out += resp.data;
  }
  return out;
}

}  // namespace ddbfs::testing
