// The Thrift handler called in-process: request validation, version rules
// and chain reports that need no peer processes.

#include "chunk_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::FreePort;
using ddbfs::testing::TempDir;

class ChunkServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ChunkStore::Open({dir_.path()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    service_ = std::make_unique<ChunkService>(store_, ChunkAuth{});
    service_->set_server_id(11);
  }

  rpc::WriteChunkResponse Write(int64_t id, int64_t version, int64_t offset, std::string data,
                                std::vector<rpc::ServerAddress> chain = {}) {
    rpc::WriteChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.offset = offset;
    req.data = std::move(data);
    req.chain = std::move(chain);
    rpc::WriteChunkResponse resp;
    service_->WriteChunk(resp, req);
    return resp;
  }
  rpc::ReadChunkResponse Read(int64_t id, int64_t version, int64_t offset, int32_t length) {
    rpc::ReadChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.offset = offset;
    req.length = length;
    rpc::ReadChunkResponse resp;
    service_->ReadChunk(resp, req);
    return resp;
  }
  rpc::TruncateChunkResponse Truncate(int64_t id, int64_t version, int64_t length,
                                      std::vector<rpc::ServerAddress> chain = {}) {
    rpc::TruncateChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.length = length;
    req.chain = std::move(chain);
    rpc::TruncateChunkResponse resp;
    service_->TruncateChunk(resp, req);
    return resp;
  }

  TempDir dir_;
  std::shared_ptr<ChunkStore> store_;
  std::unique_ptr<ChunkService> service_;
};

rpc::ServerAddress Address(int32_t id, int port) {
  rpc::ServerAddress a;
  a.server_id = id;
  a.host = "127.0.0.1";
  a.port = port;
  return a;
}

constexpr auto kInvalid = rpc::ErrorCode::INVALID_ARGUMENT;

TEST_F(ChunkServiceTest, MalformedWritesAreInvalidArgument) {
  const int64_t chunk = static_cast<int64_t>(kChunkSize);
  EXPECT_EQ(Write(1, 1, -1, "x").status.code, kInvalid);
  EXPECT_EQ(Write(1, 1, chunk - 1, "xy").status.code, kInvalid);
  EXPECT_EQ(Write(1, 1, chunk, "x").status.code, kInvalid);
  EXPECT_EQ(Write(1, 1, INT64_MAX, "x").status.code, kInvalid);
  EXPECT_EQ(Write(1, 0, 0, "x").status.code, kInvalid);
  EXPECT_EQ(Write(1, -3, 0, "x").status.code, kInvalid);
  EXPECT_EQ(Write(0, 1, 0, "x").status.code, kInvalid);
  EXPECT_EQ(Write(-5, 1, 0, "x").status.code, kInvalid);
  EXPECT_EQ(Write(1, 1, 0, std::string(kMaxIoSize + 1, 'x')).status.code, kInvalid);
  EXPECT_EQ(Write(1, 1, 0, "x", {Address(2, 0)}).status.code, kInvalid);
  rpc::ServerAddress no_host = Address(2, 9000);
  no_host.host = "";
  EXPECT_EQ(Write(1, 1, 0, "x", {no_host}).status.code, kInvalid);
  std::vector<rpc::ServerAddress> long_chain(kMaxChainLength + 1, Address(2, 9000));
  EXPECT_EQ(Write(1, 1, 0, "x", long_chain).status.code, kInvalid);
  auto resp = Write(1, 0, 0, "x");
  ASSERT_EQ(resp.replicas.size(), 1u);
  EXPECT_EQ(resp.replicas[0].server_id, 11);
  EXPECT_EQ(resp.replicas[0].status.code, kInvalid);
  EXPECT_EQ(store_->chunk_count(), 0u);
  // The largest legal write, at the very end of the chunk.
  EXPECT_EQ(Write(1, 1, chunk - kMaxIoSize, std::string(kMaxIoSize, 'e')).status.code,
            rpc::ErrorCode::OK);
}

TEST_F(ChunkServiceTest, MalformedReadsAndTruncatesAreInvalidArgument) {
  ASSERT_EQ(Write(1, 1, 0, "data").status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(Read(1, 1, -1, 10).status.code, kInvalid);
  EXPECT_EQ(Read(1, 1, 0, -1).status.code, kInvalid);
  EXPECT_EQ(Read(1, 1, 0, kMaxIoSize + 1).status.code, kInvalid);
  EXPECT_EQ(Read(1, 1, static_cast<int64_t>(kChunkSize) - 5, 10).status.code, kInvalid);
  EXPECT_EQ(Read(1, -1, 0, 10).status.code, kInvalid);
  EXPECT_EQ(Read(0, 1, 0, 10).status.code, kInvalid);
  EXPECT_EQ(Truncate(1, 0, 10).status.code, kInvalid);
  EXPECT_EQ(Truncate(1, 1, -1).status.code, kInvalid);
  EXPECT_EQ(Truncate(1, 1, static_cast<int64_t>(kChunkSize) + 1).status.code, kInvalid);
  EXPECT_EQ(Truncate(0, 1, 0).status.code, kInvalid);
  auto r = Read(1, 1, 0, 100);
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(r.data, "data");
}

TEST_F(ChunkServiceTest, VersionRulesOverTheHandler) {
  EXPECT_EQ(Read(5, 0, 0, 10).status.code, rpc::ErrorCode::NOT_FOUND);
  ASSERT_EQ(Write(5, 4, 0, "abc").status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(Write(5, 3, 0, "old").status.code, rpc::ErrorCode::STALE_VERSION);
  EXPECT_EQ(Truncate(5, 3, 0).status.code, rpc::ErrorCode::STALE_VERSION);
  EXPECT_EQ(Read(5, 5, 0, 10).status.code, rpc::ErrorCode::STALE_VERSION);
  auto r = Read(5, 4, 1, 10);
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(r.data, "bc");
  EXPECT_EQ(r.version, 4);
  ASSERT_EQ(Truncate(5, 6, 1).status.code, rpc::ErrorCode::OK);
  r = Read(5, 6, 0, 10);
  EXPECT_EQ(r.data, "a");
  EXPECT_EQ(r.version, 6);
  rpc::ChunkServerInfoResponse info;
  service_->Info(info, rpc::ChunkServerInfoRequest());
  EXPECT_EQ(info.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(info.server_id, 11);
  EXPECT_EQ(info.chunk_count, 1);
  EXPECT_GT(info.capacity_bytes, 0);
}

TEST_F(ChunkServiceTest, ChunkStateAndSetChunkVersion) {
  auto state = [&](int64_t id) {
    rpc::ChunkStateRequest req;
    req.chunk_id = id;
    rpc::ChunkStateResponse resp;
    service_->ChunkState(resp, req);
    return resp;
  };
  auto set = [&](int64_t id, int64_t from, int64_t to, int64_t length) {
    rpc::SetChunkVersionRequest req;
    req.chunk_id = id;
    req.from_version = from;
    req.to_version = to;
    req.length = length;
    rpc::SetChunkVersionResponse resp;
    service_->SetChunkVersion(resp, req);
    return resp.status;
  };
  EXPECT_EQ(state(0).status.code, kInvalid);
  EXPECT_EQ(state(6).status.code, rpc::ErrorCode::NOT_FOUND);
  ASSERT_EQ(Write(6, 2, 0, "abcdef").status.code, rpc::ErrorCode::OK);
  auto st = state(6);
  EXPECT_EQ(st.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(st.version, 2);
  EXPECT_EQ(st.length, 6);
  EXPECT_EQ(set(6, 0, 3, -1).code, kInvalid);
  EXPECT_EQ(set(6, 3, 2, -1).code, kInvalid);
  EXPECT_EQ(set(6, 2, 3, -2).code, kInvalid);
  EXPECT_EQ(set(6, 2, 3, static_cast<int64_t>(kChunkSize) + 1).code, kInvalid);
  EXPECT_EQ(set(7, 2, 3, -1).code, rpc::ErrorCode::NOT_FOUND);
  auto stale = set(6, 1, 3, -1);
  EXPECT_EQ(stale.code, rpc::ErrorCode::STALE_VERSION);
  EXPECT_NE(stale.message.find("holds version 2"), std::string::npos) << stale.message;
  ASSERT_EQ(set(6, 2, 3, 4).code, rpc::ErrorCode::OK);
  st = state(6);
  EXPECT_EQ(st.version, 3);
  EXPECT_EQ(st.length, 4);
  EXPECT_EQ(Read(6, 3, 0, 10).data, "abcd");
  EXPECT_EQ(Read(6, 2, 0, 10).status.code, rpc::ErrorCode::STALE_VERSION);
}

TEST_F(ChunkServiceTest, ReplicateChunkValidatesAndAFailedCopyKeepsTheOldReplica) {
  service_->set_self_address("127.0.0.1", 9555);
  auto replicate = [&](int64_t id, int64_t version, rpc::ServerAddress source) {
    rpc::ReplicateChunkRequest req;
    req.chunk_id = id;
    req.version = version;
    req.source = std::move(source);
    rpc::ReplicateChunkResponse resp;
    service_->ReplicateChunk(resp, req);
    return resp;
  };
  const int dead = FreePort();
  EXPECT_EQ(replicate(0, 1, Address(2, dead)).status.code, kInvalid);
  EXPECT_EQ(replicate(1, 0, Address(2, dead)).status.code, kInvalid);
  EXPECT_EQ(replicate(1, 1, Address(2, 0)).status.code, kInvalid);
  EXPECT_EQ(replicate(1, 1, Address(2, 70000)).status.code, kInvalid);
  rpc::ServerAddress no_host = Address(2, dead);
  no_host.host = "";
  EXPECT_EQ(replicate(1, 1, no_host).status.code, kInvalid);
  EXPECT_EQ(replicate(1, 1, Address(2, 9555)).status.code, kInvalid);   // this server
  EXPECT_EQ(replicate(1, 1, Address(11, dead)).status.code, kInvalid);  // its own id
  // An unreachable source: the old replica stays and no temporary is left.
  ASSERT_EQ(Write(1, 3, 0, "old").status.code, rpc::ErrorCode::OK);
  auto resp = replicate(1, 4, Address(2, dead));
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::UNAVAILABLE) << resp.status.message;
  EXPECT_EQ(Read(1, 3, 0, 10).data, "old");
  EXPECT_FALSE(std::filesystem::exists(store_->ChunkPath(0, 1) + ".tmp"));
  EXPECT_EQ(store_->chunk_count(), 1u);
}

TEST_F(ChunkServiceTest, UnreachableChainMembersAreReportedAndTheLocalWriteStands) {
  const int dead1 = FreePort();
  const int dead2 = FreePort();
  auto resp = Write(8, 1, 0, "payload", {Address(21, dead1), Address(22, dead2)});
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK);
  ASSERT_EQ(resp.replicas.size(), 3u);
  EXPECT_EQ(resp.replicas[0].server_id, 11);
  EXPECT_EQ(resp.replicas[0].status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(resp.replicas[1].server_id, 21);
  EXPECT_EQ(resp.replicas[1].status.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_NE(resp.replicas[1].status.message.find(std::to_string(dead1)), std::string::npos);
  EXPECT_EQ(resp.replicas[2].server_id, 22);
  EXPECT_EQ(resp.replicas[2].status.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_EQ(Read(8, 1, 0, 100).data, "payload");
  auto t = Truncate(8, 2, 3, {Address(21, dead1)});
  EXPECT_EQ(t.status.code, rpc::ErrorCode::OK);
  ASSERT_EQ(t.replicas.size(), 2u);
  EXPECT_EQ(t.replicas[1].status.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_EQ(Read(8, 2, 0, 100).data, "pay");
}

TEST_F(ChunkServiceTest, LocalFailureIsTheResponseStatus) {
  ASSERT_EQ(Write(9, 5, 0, "x").status.code, rpc::ErrorCode::OK);
  auto resp = Write(9, 4, 0, "y", {Address(21, FreePort())});
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::STALE_VERSION);
  ASSERT_EQ(resp.replicas.size(), 2u);
  EXPECT_EQ(resp.replicas[0].status.code, rpc::ErrorCode::STALE_VERSION);
  EXPECT_EQ(resp.replicas[1].status.code, rpc::ErrorCode::UNAVAILABLE);
}

}  // namespace
}  // namespace ddbfs::chunkserver
