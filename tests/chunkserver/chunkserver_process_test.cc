// Real ddbfs-chunkserver processes on loopback, with no metaserver running
// (they must serve anyway): chain replication, a dead chain member,
// malformed requests, flags, config file and clean shutdown.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "process.h"
#include "test_keys.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::FreePort;
using ddbfs::testing::Process;
using ddbfs::testing::RunCommand;
using ddbfs::testing::TempDir;
using ddbfs::testing::WaitForPort;

const std::string kBinary = std::string(DDBFS_BINARY_DIR) + "/bin/ddbfs-chunkserver";
using Client = RpcConnection<rpc::ChunkServiceClient>;

struct Server {
  int port = 0;
  std::unique_ptr<Process> process;
  std::unique_ptr<Client> client;
};

class ChunkServerProcessTest : public ::testing::Test {
 protected:
  // Starts a chunk server with its own data folder and no metaserver.
  Server& Start(const std::vector<std::string>& extra = {},
                const std::vector<std::string>& launcher = {}) {
    const int port = FreePort();
    const std::string name = "cs" + std::to_string(servers_.size() + 1);
    std::vector<std::string> args = {"--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--meta",
                                     dead_meta_,
                                     "--data",
                                     dir_.path() + "/" + name,
                                     "--cluster-key-file",
                                     key_file_,
                                     "--log-level",
                                     "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    return StartWith(port, args, launcher);
  }
  // Starts a chunk server with `args` that should listen on `port`; with a
  // `launcher` (e.g. prlimit and its options), through it.
  Server& StartWith(int port, const std::vector<std::string>& args,
                    const std::vector<std::string>& launcher = {}) {
    Server& s = servers_.emplace_back();
    s.port = port;
    const std::string log = dir_.path() + "/server" + std::to_string(servers_.size()) + ".log";
    if (launcher.empty()) {
      s.process = std::make_unique<Process>(kBinary, args, log);
    } else {
      std::vector<std::string> all(launcher.begin() + 1, launcher.end());
      all.push_back(kBinary);
      all.insert(all.end(), args.begin(), args.end());
      s.process = std::make_unique<Process>(launcher.front(), all, log);
    }
    // As a cluster member (the metaserver or a peer would be one).
    s.client = std::make_unique<Client>("127.0.0.1", s.port, 10000,
                                        ddbfs::testing::ClusterTransport(key_file_));
    EXPECT_TRUE(WaitForPort(s.port, std::chrono::seconds(15))) << s.process->LogTail();
    return s;
  }

  static rpc::ServerAddress Address(int32_t id, int port) {
    rpc::ServerAddress a;
    a.server_id = id;
    a.host = "127.0.0.1";
    a.port = port;
    return a;
  }
  // A write capability for chunk `id` at `version`, chain `s` then `rest`,
  // signed as the metaserver would sign it.
  rpc::Capability WriteCap(const Server& s, int64_t id, int64_t version,
                           const std::vector<rpc::ServerAddress>& rest) const {
    rpc::Capability cap;
    cap.chunk_id = id;
    cap.version = version;
    cap.ops = kCapWrite;
    cap.expires_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     60000;
    cap.chain.push_back(Address(0, s.port));
    cap.chain.insert(cap.chain.end(), rest.begin(), rest.end());
    CapabilityKey(*ReadSecretFile(key_file_)).Sign(&cap);
    return cap;
  }
  rpc::WriteChunkResponse Write(Server& s, rpc::WriteChunkRequest req) const {
    if (!req.__isset.cap) req.__set_cap(WriteCap(s, req.chunk_id, req.version, req.chain));
    rpc::WriteChunkResponse resp;
    Status st = s.client->Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, req); });
    EXPECT_TRUE(st.ok()) << st;
    return resp;
  }
  rpc::ReadChunkResponse Read(Server& s, int64_t id, int64_t version, int64_t offset,
                              int32_t length) {
    rpc::ReadChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.offset = offset;
    req.length = length;
    rpc::ReadChunkResponse resp;
    Status st = s.client->Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(resp, req); });
    EXPECT_TRUE(st.ok()) << st;
    return resp;
  }
  static rpc::WriteChunkRequest WriteRequest(int64_t id, int64_t version, int64_t offset,
                                             std::string data,
                                             std::vector<rpc::ServerAddress> chain) {
    rpc::WriteChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.offset = offset;
    req.data = std::move(data);
    req.chain = std::move(chain);
    req.sync = true;
    return req;
  }

  // Runs the server binary to completion; returns its exit code and its
  // stdout and stderr together.
  static std::pair<int, std::string> RunToCompletion(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunCommand(argv, "", std::chrono::seconds(20));
    return {r.exit_code, r.out + r.err};
  }

  TempDir dir_;
  std::string key_file_ = ddbfs::testing::WriteClusterKey(dir_.path());
  std::string dead_meta_ = "127.0.0.1:" + std::to_string(FreePort());
  std::deque<Server> servers_;
};

TEST_F(ChunkServerProcessTest, ChainWriteReachesEveryReplica) {
  Server& a = Start();
  Server& b = Start();
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  auto resp = Write(a, WriteRequest(1, 1, 1000, data, {Address(2, b.port)}));
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  ASSERT_EQ(resp.replicas.size(), 2u);
  EXPECT_EQ(resp.replicas[0].status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(resp.replicas[1].server_id, 2);
  EXPECT_EQ(resp.replicas[1].status.code, rpc::ErrorCode::OK) << resp.replicas[1].status.message;
  for (Server* s : {&a, &b}) {
    auto r = Read(*s, 1, 1, 0, static_cast<int32_t>(kMaxIoSize));
    ASSERT_EQ(r.status.code, rpc::ErrorCode::OK) << r.status.message;
    EXPECT_EQ(r.version, 1);
    ASSERT_EQ(r.data.size(), data.size() + 1000);
    EXPECT_EQ(r.data.substr(0, 1000), std::string(1000, '\0'));
    EXPECT_TRUE(r.data.substr(1000) == data) << "server on port " << s->port;
  }
  // A truncate travels the chain too.
  rpc::TruncateChunkRequest t;
  t.chunk_id = 1;
  t.version = 2;
  t.length = 10;
  t.chain = {Address(2, b.port)};
  t.__set_cap(WriteCap(a, 1, 2, t.chain));
  rpc::TruncateChunkResponse tr;
  ASSERT_TRUE(a.client->Call([&](rpc::ChunkServiceClient& c) { c.TruncateChunk(tr, t); }).ok());
  ASSERT_EQ(tr.replicas.size(), 2u);
  EXPECT_EQ(tr.replicas[1].status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(Read(b, 1, 2, 0, 100).data.size(), 10u);
}

TEST_F(ChunkServerProcessTest, DeadMiddleMemberIsSkippedAndReportedUnavailable) {
  Server& a = Start();
  Server& c = Start();
  Server& dead = Start();
  EXPECT_EQ(dead.process->Stop(SIGKILL), SIGKILL);
  auto resp =
      Write(a, WriteRequest(7, 3, 0, "replicated", {Address(5, dead.port), Address(6, c.port)}));
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK);
  ASSERT_EQ(resp.replicas.size(), 3u);
  EXPECT_EQ(resp.replicas[0].status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(resp.replicas[1].server_id, 5);
  EXPECT_EQ(resp.replicas[1].status.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_EQ(resp.replicas[2].server_id, 6);
  EXPECT_EQ(resp.replicas[2].status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(Read(a, 7, 3, 0, 100).data, "replicated");
  EXPECT_EQ(Read(c, 7, 3, 0, 100).data, "replicated");
  // A stale write is refused everywhere it reaches, and each says so.
  resp = Write(a, WriteRequest(7, 2, 0, "old", {Address(6, c.port)}));
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::STALE_VERSION);
  ASSERT_EQ(resp.replicas.size(), 2u);
  EXPECT_EQ(resp.replicas[1].status.code, rpc::ErrorCode::STALE_VERSION);
}

TEST_F(ChunkServerProcessTest, ReplicateChunkCopiesAReplicaBetweenServers) {
  Server& a = Start();
  Server& b = Start();
  // 9 MiB + a partial block: three ReadChunk pieces.
  std::string data((9 << 20) + 12345, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + i / 65536);
  for (size_t off = 0; off < data.size(); off += kMaxIoSize) {
    auto resp =
        Write(a, WriteRequest(3, 5, static_cast<int64_t>(off), data.substr(off, kMaxIoSize), {}));
    ASSERT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  }
  // b holds an older replica that the copy replaces.
  ASSERT_EQ(Write(b, WriteRequest(3, 2, 0, "stale bytes", {})).status.code, rpc::ErrorCode::OK);
  auto replicate = [&](Server& to, int64_t version, int port) {
    rpc::ReplicateChunkRequest req;
    req.chunk_id = 3;
    req.version = version;
    req.source = Address(1, port);
    rpc::ReplicateChunkResponse resp;
    Status st = to.client->Call([&](rpc::ChunkServiceClient& c) { c.ReplicateChunk(resp, req); });
    EXPECT_TRUE(st.ok()) << st;
    return resp;
  };
  // The source does not hold version 4: refused, b's replica untouched.
  auto wrong = replicate(b, 4, a.port);
  EXPECT_EQ(wrong.status.code, rpc::ErrorCode::STALE_VERSION) << wrong.status.message;
  EXPECT_EQ(Read(b, 3, 2, 0, 100).data, "stale bytes");
  // A server is not its own source.
  EXPECT_EQ(replicate(b, 5, b.port).status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  auto resp = replicate(b, 5, a.port);
  ASSERT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  EXPECT_EQ(resp.length, static_cast<int64_t>(data.size()));
  std::string copy;
  for (size_t off = 0; off < data.size(); off += kMaxIoSize) {
    auto r = Read(b, 3, 5, static_cast<int64_t>(off), static_cast<int32_t>(kMaxIoSize));
    ASSERT_EQ(r.status.code, rpc::ErrorCode::OK) << r.status.message;
    copy += r.data;
  }
  EXPECT_TRUE(copy == data);
  EXPECT_EQ(Read(b, 3, 2, 0, 10).status.code, rpc::ErrorCode::STALE_VERSION);
  rpc::ChunkStateRequest sreq;
  sreq.chunk_id = 3;
  rpc::ChunkStateResponse state;
  ASSERT_TRUE(b.client->Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, sreq); }).ok());
  EXPECT_EQ(state.version, 5);
  EXPECT_EQ(state.length, static_cast<int64_t>(data.size()));
  // A copy to a server that has no replica at all; the source then dies:
  // nothing is left behind on the target.
  Server& c = Start();
  ASSERT_EQ(replicate(c, 5, b.port).status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(Read(c, 3, 5, 0, 5).data, data.substr(0, 5));
  EXPECT_EQ(a.process->Stop(SIGKILL), SIGKILL);
  Server& d = Start();
  EXPECT_EQ(replicate(d, 5, a.port).status.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_EQ(Read(d, 3, 5, 0, 5).status.code, rpc::ErrorCode::NOT_FOUND);
}

TEST_F(ChunkServerProcessTest, MalformedRequestsAreInvalidAndTheServerStaysUp) {
  Server& a = Start();
  const int64_t chunk = static_cast<int64_t>(kChunkSize);
  for (const auto& req : {WriteRequest(1, 1, -1, "x", {}), WriteRequest(1, 1, chunk - 1, "xy", {}),
                          WriteRequest(1, 0, 0, "x", {}), WriteRequest(0, 1, 0, "x", {}),
                          WriteRequest(1, 1, 0, "x", {Address(1, -4)})}) {
    EXPECT_EQ(Write(a, req).status.code, rpc::ErrorCode::INVALID_ARGUMENT)
        << "offset " << req.offset << " version " << req.version;
  }
  EXPECT_EQ(Read(a, 1, 0, -5, 10).status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(Read(a, 1, 0, 0, -10).status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(Read(a, 1, 0, 0, static_cast<int32_t>(kMaxIoSize) + 1).status.code,
            rpc::ErrorCode::INVALID_ARGUMENT);
  EXPECT_EQ(Read(a, 1, 0, 0, 10).status.code, rpc::ErrorCode::NOT_FOUND);
  EXPECT_TRUE(a.process->running());
  rpc::ChunkServerInfoResponse info;
  ASSERT_TRUE(
      a.client
          ->Call([&](rpc::ChunkServiceClient& c) { c.Info(info, rpc::ChunkServerInfoRequest()); })
          .ok());
  EXPECT_EQ(info.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(info.chunk_count, 0);
  EXPECT_GT(info.capacity_bytes, 0);
}

TEST_F(ChunkServerProcessTest, SigtermStopsCleanlyAndDataSurvivesARestart) {
  Server& a = Start();
  ASSERT_EQ(Write(a, WriteRequest(4, 2, 0, "durable", {})).status.code, rpc::ErrorCode::OK);
  a.client->Close();
  int status = a.process->Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << a.process->LogTail();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(a.process->Log().find("listening on 127.0.0.1:" + std::to_string(a.port)),
            std::string::npos);
  // The same folder again, with the flags from a config file this time.
  const std::string config = dir_.path() + "/cs.ini";
  std::ofstream(config) << "listen = 127.0.0.1:" << a.port << "\nmeta = " << dead_meta_
                        << "\ndata = " << dir_.path() << "/cs1\nlabel = host-a\n"
                        << "cluster-key-file = " << key_file_ << "\n";
  Server& b = StartWith(a.port, {"--config", config});
  auto r = Read(b, 4, 2, 0, 100);
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK) << b.process->LogTail();
  EXPECT_EQ(r.data, "durable");
  EXPECT_EQ(r.version, 2);
}

TEST_F(ChunkServerProcessTest, BadFlagsExitWithOneLineAndCode2) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--data", dir_.path() + "/x", "--bogus"},
           {},
           {"--data", dir_.path() + "/x", "--listen", "nohost"},
           {"--data", dir_.path() + "/x", "--log-level", "chatty"}}) {
    auto [exit_code, output] = RunToCompletion(args);
    EXPECT_EQ(exit_code, 2) << output;
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  }
  auto [help_code, help] = RunToCompletion({"--help"});
  EXPECT_EQ(help_code, 0);
  EXPECT_NE(help.find("--data"), std::string::npos);
}

// ---- the trust boundary (docs/security.md)

TEST_F(ChunkServerProcessTest, WritesWithoutAValidCapabilityAreRefusedAndChangeNothing) {
  Server& a = Start();
  Server& b = Start();
  ASSERT_EQ(Write(a, WriteRequest(9, 3, 0, "original", {})).status.code, rpc::ErrorCode::OK);
  // A client: no cluster key, only what it is given.
  Client anyone("127.0.0.1", a.port, 10000);
  auto attempt = [&](rpc::WriteChunkRequest req) {
    rpc::WriteChunkResponse resp;
    EXPECT_TRUE(anyone.Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, req); }).ok());
    return resp.status.code;
  };
  const auto denied = rpc::ErrorCode::PERMISSION_DENIED;
  auto req = WriteRequest(9, 4, 0, "HOSTILE!", {});
  EXPECT_EQ(attempt(req), denied) << "no capability";
  req.__set_cap(WriteCap(a, 8, 4, {}));
  EXPECT_EQ(attempt(req), denied) << "another chunk";
  req.__set_cap(WriteCap(a, 9, 5, {}));
  EXPECT_EQ(attempt(req), denied) << "another version";
  rpc::Capability read_only = WriteCap(a, 9, 4, {});
  read_only.ops = kCapRead;
  CapabilityKey(*ReadSecretFile(key_file_)).Sign(&read_only);
  req.__set_cap(read_only);
  EXPECT_EQ(attempt(req), denied) << "another operation";
  rpc::Capability expired = WriteCap(a, 9, 4, {});
  expired.expires_ms -= 60000 + 31000;  // past the default 30 s skew allowance
  CapabilityKey(*ReadSecretFile(key_file_)).Sign(&expired);
  req.__set_cap(expired);
  EXPECT_EQ(attempt(req), rpc::ErrorCode::CAPABILITY_EXPIRED) << "expired";
  rpc::Capability forged = WriteCap(a, 9, 4, {});
  forged.chunk_id = 9;
  forged.version = 40;  // changed after signing
  req.version = 40;
  req.__set_cap(forged);
  EXPECT_EQ(attempt(req), denied) << "altered after signing";
  rpc::Capability other_cluster = WriteCap(a, 9, 4, {});
  CapabilityKey(RandomBytes(kSecretBytes)).Sign(&other_cluster);
  req.version = 4;
  req.__set_cap(other_cluster);
  EXPECT_EQ(attempt(req), denied) << "signed with another key";
  // Forwarding only along the capability's chain: a chain naming b when
  // the capability names only a is refused (and b is never written).
  req = WriteRequest(9, 4, 0, "HOSTILE!", {Address(0, b.port)});
  req.__set_cap(WriteCap(a, 9, 4, {}));
  EXPECT_EQ(attempt(req), denied) << "forwarding outside the chain";

  auto r = Read(a, 9, 3, 0, 100);
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK) << r.status.message;
  EXPECT_EQ(r.data, "original");
  EXPECT_EQ(Read(b, 9, 4, 0, 100).status.code, rpc::ErrorCode::NOT_FOUND);
  // The same write with the right capability goes through.
  req = WriteRequest(9, 4, 0, "accepted", {});
  req.__set_cap(WriteCap(a, 9, 4, {}));
  EXPECT_EQ(attempt(req), rpc::ErrorCode::OK);
}

TEST_F(ChunkServerProcessTest, ReadsAndServerCallsNeedACapabilityOrTheClusterKey) {
  Server& a = Start();
  ASSERT_EQ(Write(a, WriteRequest(5, 1, 0, "secret bytes", {})).status.code, rpc::ErrorCode::OK);
  Client anyone("127.0.0.1", a.port, 10000);
  rpc::ReadChunkRequest read;
  read.chunk_id = 5;
  read.version = 1;
  read.length = 100;
  rpc::ReadChunkResponse data;
  ASSERT_TRUE(anyone.Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(data, read); }).ok());
  EXPECT_EQ(data.status.code, rpc::ErrorCode::PERMISSION_DENIED);
  EXPECT_TRUE(data.data.empty());
  rpc::Capability cap;
  cap.chunk_id = 5;
  cap.version = 1;
  cap.ops = kCapRead;
  cap.expires_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   60000;
  CapabilityKey(*ReadSecretFile(key_file_)).Sign(&cap);
  read.__set_cap(cap);
  ASSERT_TRUE(anyone.Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(data, read); }).ok());
  EXPECT_EQ(data.status.code, rpc::ErrorCode::OK) << data.status.message;
  EXPECT_EQ(data.data, "secret bytes");

  const auto unauthenticated = rpc::ErrorCode::UNAUTHENTICATED;
  rpc::SetChunkVersionRequest setv;
  setv.chunk_id = 5;
  setv.from_version = 1;
  setv.to_version = 7;
  setv.length = 0;
  rpc::SetChunkVersionResponse setv_resp;
  ASSERT_TRUE(
      anyone.Call([&](rpc::ChunkServiceClient& c) { c.SetChunkVersion(setv_resp, setv); }).ok());
  EXPECT_EQ(setv_resp.status.code, unauthenticated);
  rpc::ChunkStateRequest state_req;
  state_req.chunk_id = 5;
  rpc::ChunkStateResponse state;
  ASSERT_TRUE(
      anyone.Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, state_req); }).ok());
  EXPECT_EQ(state.status.code, unauthenticated);
  rpc::ReplicateChunkRequest copy;
  copy.chunk_id = 5;
  copy.version = 9;
  copy.source = Address(0, a.port + 1);
  rpc::ReplicateChunkResponse copied;
  ASSERT_TRUE(
      anyone.Call([&](rpc::ChunkServiceClient& c) { c.ReplicateChunk(copied, copy); }).ok());
  EXPECT_EQ(copied.status.code, rpc::ErrorCode::PERMISSION_DENIED);
  rpc::ChunkServerInfoResponse info;
  ASSERT_TRUE(
      anyone.Call([&](rpc::ChunkServiceClient& c) { c.Info(info, rpc::ChunkServerInfoRequest()); })
          .ok());
  EXPECT_EQ(info.status.code, unauthenticated);
  // A wrong cluster key does not authenticate.
  auto wrong = Transport::Create({}, Credential{"cluster", RandomBytes(kSecretBytes)});
  ASSERT_TRUE(wrong.ok());
  Client impostor("127.0.0.1", a.port, 10000, *wrong);
  Status s = impostor.Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, state_req); });
  EXPECT_EQ(s.code(), ErrorCode::kUnauthenticated) << s;
  // Nothing changed: the replica is still version 1 with its bytes.
  auto r = Read(a, 5, 1, 0, 100);
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK) << r.status.message;
  EXPECT_EQ(r.data, "secret bytes");
}

// ---- hostile peers (docs/protocol.md, "Transport")

// A raw TCP connection to 127.0.0.1:port (-1 if it cannot be made).
int RawConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    fd = -1;
  }
  return fd;
}

void PutBe32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBe16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v & 0xff));
}

// Small framed Thrift calls whose fields claim gigabytes: a method name of
// 2 GiB, a WriteChunk `data` of 2 GiB, a `chain` of 500 million entries.
std::vector<std::string> HostileFrames() {
  std::vector<std::string> out;
  auto frame = [&](const std::string& body) {
    std::string f;
    PutBe32(&f, static_cast<uint32_t>(body.size()));
    out.push_back(f + body);
  };
  std::string name;
  PutBe32(&name, 0x80010001);  // strict binary protocol, a call
  PutBe32(&name, 0x7ffffff0);  // the method name's length
  name += "Info";
  frame(name);
  auto write_chunk = [] {
    std::string b;
    PutBe32(&b, 0x80010001);
    PutBe32(&b, 10);
    b += "WriteChunk";
    PutBe32(&b, 1);   // sequence id
    b.push_back(12);  // field 1 (req): a struct
    PutBe16(&b, 1);
    return b;
  };
  std::string data = write_chunk();
  data.push_back(11);  // req.data: binary
  PutBe16(&data, 4);
  PutBe32(&data, 0x7ffffff0);
  data += "xx";
  frame(data);
  std::string chain = write_chunk();
  chain.push_back(15);  // req.chain: a list of structs
  PutBe16(&chain, 5);
  chain.push_back(12);
  PutBe32(&chain, 500000000);
  frame(chain);
  return out;
}

// Peak resident memory of a process in KiB (VmHWM), -1 if unknown.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// Waits until the server closes `fd` (read returns 0 or fails); false if it
// is still open after `timeout`.
bool ClosedByServer(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

bool Answers(Server& s) {
  rpc::ChunkServerInfoResponse resp;
  Status st = s.client->Call(
      [&](rpc::ChunkServiceClient& c) { c.Info(resp, rpc::ChunkServerInfoRequest()); });
  return st.ok() && resp.status.code == rpc::ErrorCode::OK;
}

// Answers() within 5 s (the server may still be freeing descriptors or
// closing connections).
bool AnswersWithin5s(Server& s) {
  for (int i = 0; i < 50; ++i) {
    if (Answers(s)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST_F(ChunkServerProcessTest, MessagesClaimingGigabytesAllocateNothingAndTheServerStaysUp) {
  Server& s = Start();
  ASSERT_TRUE(Answers(s));
  const int64_t before = PeakRssKib(s.process->pid());
  ASSERT_GT(before, 0);
  for (int round = 0; round < 3; ++round) {
    for (const std::string& f : HostileFrames()) {
      int fd = RawConnect(s.port);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::send(fd, f.data(), f.size(), MSG_NOSIGNAL), static_cast<ssize_t>(f.size()));
      EXPECT_TRUE(ClosedByServer(fd, std::chrono::seconds(5))) << "a hostile call was not refused";
      ::close(fd);
    }
  }
  const int64_t after = PeakRssKib(s.process->pid());
  // The foundation's server reached gigabytes here.
  EXPECT_LT(after - before, 64 * 1024) << "peak RSS " << before << " KiB -> " << after << " KiB";
  EXPECT_TRUE(Answers(s));
}

// A frame's room is set aside when its length arrives, but only the bytes
// that came touch memory: 100 connections that announce the largest frame
// (16 MiB) and send a few bytes of it hold next to nothing.
TEST_F(ChunkServerProcessTest, HalfSentLargeFramesHoldOnlyTheBytesSent) {
  Server& s = Start();
  ASSERT_TRUE(Answers(s));
  const int64_t before = PeakRssKib(s.process->pid());
  ASSERT_GT(before, 0);
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) {
    int fd = RawConnect(s.port);
    ASSERT_GE(fd, 0);
    std::string half;
    PutBe32(&half, (16u << 20) - 16);
    half += std::string(1000, 'x');
    ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(half.size()));
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(Answers(s));
  const int64_t held = PeakRssKib(s.process->pid());
  for (int fd : fds) ::close(fd);
  EXPECT_LT(held - before, 32 * 1024)
      << "peak RSS " << before << " KiB -> " << held << " KiB with 100 half-sent frames of 16 MiB";
}

// Two calls sent back to back in one packet are both answered, in order
// (the second frame's bytes arrive with the first's).
TEST_F(ChunkServerProcessTest, CallsSentBackToBackAreAnsweredInOrder) {
  Server& s = Start();
  ASSERT_TRUE(Answers(s));
  auto call = [](int32_t seq) {
    std::string b;
    PutBe32(&b, 0x80010001);
    PutBe32(&b, 4);
    b += "Info";
    PutBe32(&b, static_cast<uint32_t>(seq));
    b.push_back(12);  // field 1 (req): an empty struct
    PutBe16(&b, 1);
    b.push_back(0);  // end of req
    b.push_back(0);  // end of the arguments
    std::string f;
    PutBe32(&f, static_cast<uint32_t>(b.size()));
    return f + b;
  };
  const std::string both = call(7) + call(8);
  int fd = RawConnect(s.port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, both.data(), both.size(), MSG_NOSIGNAL), static_cast<ssize_t>(both.size()));
  // Each answer: frame length, then version+type, name "Info", the seq id.
  std::vector<int32_t> seqs;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seqs.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "the server closed the connection";
    got.append(buf, static_cast<size_t>(n));
    while (got.size() >= 4) {
      const auto* u = reinterpret_cast<const unsigned char*>(got.data());
      const uint32_t len =
          (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
      if (got.size() < 4 + len) break;
      const auto* q = u + 4 + 4 + 4 + 4;  // past length, version, name length, "Info"
      seqs.push_back(static_cast<int32_t>((uint32_t{q[0]} << 24) | (uint32_t{q[1]} << 16) |
                                          (uint32_t{q[2]} << 8) | q[3]));
      got.erase(0, 4 + len);
    }
  }
  ::close(fd);
  EXPECT_EQ(seqs, (std::vector<int32_t>{7, 8}));
}

TEST_F(ChunkServerProcessTest, RunningOutOfFileDescriptorsDoesNotStopTheServer) {
  // 40 descriptors: the data folder, the listening socket, logs... and room
  // for a few dozen connections before accept() fails with EMFILE.
  Server& s = Start({}, {"/usr/bin/prlimit", "--nofile=40:40"});
  ASSERT_TRUE(Answers(s));
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) {
    int fd = RawConnect(s.port);  // completes in the listen backlog
    if (fd >= 0) fds.push_back(fd);
  }
  EXPECT_GT(fds.size(), 40u) << "the test did not reach the descriptor limit";
  // Held for two seconds: the accept loop hits EMFILE again and again.
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(s.process->running()) << "the server exited: " << s.process->LogTail();
  }
  for (int fd : fds) ::close(fd);
  // Once descriptors are free again it accepts and answers.
  EXPECT_TRUE(AnswersWithin5s(s)) << s.process->LogTail();
}

TEST_F(ChunkServerProcessTest, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  Server& s = Start({"--idle-timeout-ms", "300"});
  int fd = RawConnect(s.port);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(ClosedByServer(fd, std::chrono::seconds(5)));
  ::close(fd);
  // Pooled client connections that went idle reconnect transparently.
  ASSERT_TRUE(Answers(s));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(Answers(s));
}

// Threads of a process (the Threads: line of /proc/PID/status), -1 if unknown.
int ThreadCount(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_F(ChunkServerProcessTest, IdleAndHalfSentConnectionsHoldNoThread) {
  Server& s = Start();
  ASSERT_TRUE(Answers(s));
  const int before = ThreadCount(s.process->pid());
  ASSERT_GT(before, 0);
  // 150 connections that say nothing and 150 that stop in the middle of a
  // frame (a slow or hostile peer): a thread per connection would be 300.
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {
    int fd = RawConnect(s.port);
    ASSERT_GE(fd, 0);
    if (i % 2 == 1) {
      std::string half;
      PutBe32(&half, 1000);
      half += "abc";
      ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(half.size()));
    }
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int held = ThreadCount(s.process->pid());
  // The server still answers at once while they are held.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(Answers(s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  for (int fd : fds) ::close(fd);
  EXPECT_LT(held - before, 16) << before << " threads before, " << held
                               << " with 300 idle connections";
}

TEST_F(ChunkServerProcessTest, ConnectionsBeyondTheLimitAreClosedAndTheServerKeepsServing) {
  Server& s = Start({"--max-connections", "8"});
  ASSERT_TRUE(Answers(s));  // the test's own pooled connection is one of the 8
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    int fd = RawConnect(s.port);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  int closed = 0;
  for (int fd : fds) closed += ClosedByServer(fd, std::chrono::milliseconds(300)) ? 1 : 0;
  EXPECT_GE(closed, 12) << "of 20 connections over a limit of 8, " << closed << " were closed";
  EXPECT_TRUE(s.process->running());
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(AnswersWithin5s(s)) << s.process->LogTail();
}

// Each server keeps one worker thread: every write holds a worker on its
// first server while it forwards to the second, and the chains run both
// ways (A->B and B->A). A server with a fixed pool would have both workers
// waiting on each other until the forward timeout (60 s); the clients give
// up after 15 s.
TEST_F(ChunkServerProcessTest, ChainWritesInBothDirectionsUnderLoadDoNotDeadlock) {
  Server& a = Start({"--worker-threads", "1"});
  Server& b = Start({"--worker-threads", "1"});
  constexpr int kWriters = 8;
  constexpr int kWrites = 12;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kWriters);
  std::vector<std::thread> writers;
  const auto t0 = std::chrono::steady_clock::now();
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Server& first = w % 2 == 0 ? a : b;
      Server& second = w % 2 == 0 ? b : a;
      Client client("127.0.0.1", first.port, 15000, ddbfs::testing::ClusterTransport(key_file_));
      const std::string data(256 << 10, static_cast<char>('a' + w));
      for (int i = 0; i < kWrites; ++i) {
        const int64_t id = 1000 + w * 100 + i;
        auto req = WriteRequest(id, 1, 0, data, {Address(2, second.port)});
        req.__set_cap(WriteCap(first, id, 1, req.chain));
        rpc::WriteChunkResponse resp;
        Status st = client.Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, req); });
        if (!st.ok()) {
          failures[w] = st.ToString();
          return;
        }
        if (resp.status.code != rpc::ErrorCode::OK || resp.replicas.size() != 2 ||
            resp.replicas[1].status.code != rpc::ErrorCode::OK) {
          failures[w] =
              "chunk " + std::to_string(id) + " not on both servers: " + resp.status.message;
          return;
        }
        ++ok;
      }
    });
  }
  for (auto& t : writers) t.join();
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(failures[w], "") << "writer " << w;
  EXPECT_EQ(ok.load(), kWriters * kWrites);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(Read(b, 1000, 1, 0, 16).data, std::string(16, 'a'));
  EXPECT_EQ(Read(a, 1101, 1, 0, 16).data, std::string(16, 'b'));
}

}  // namespace
}  // namespace ddbfs::chunkserver
