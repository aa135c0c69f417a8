// MetaLink against a stand-in metaserver: a real Thrift server on loopback
// that implements RegisterServer, ReportInventory and Heartbeat and records
// what it got (the real metaserver is tested with chunk servers in
// tests/integration, and with the paging client in
// tests/metaserver/registration_process_test.cc).

#include "meta_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "MetaService.h"
#include "ddbfs/rpc_server.h"
#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::FreePort;
using ddbfs::testing::TempDir;
using ddbfs::testing::WaitFor;

constexpr auto kWait = std::chrono::seconds(10);

// Thread-safe: Thrift calls it from its connection threads.
class FakeMeta : public rpc::MetaServiceNull {
 public:
  void RegisterServer(rpc::RegisterServerResponse& resp,
                      const rpc::RegisterServerRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    registrations_.push_back(req);
    if (refuse_) {
      resp.status.code = rpc::ErrorCode::PERMISSION_DENIED;
      resp.status.message = "uuid taken";
      return;
    }
    resp.status.code = rpc::ErrorCode::OK;
    resp.server_id = 42;
    resp.heartbeat_interval_ms = 50;
    resp.delete_chunks = std::move(delete_on_register_);
    delete_on_register_.clear();
    if (!legacy_) {
      resp.__set_session(++session_);
      resp.__set_max_page_entries(2);
    }
  }
  void ReportInventory(rpc::ReportInventoryResponse& resp,
                       const rpc::ReportInventoryRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    // A metaserver that predates paging does not know the method.
    if (legacy_) throw std::runtime_error("Invalid method name: 'ReportInventory'");
    if (req.server_id == 0) {  // the client's probe
      resp.status.code = rpc::ErrorCode::INVALID_ARGUMENT;
      return;
    }
    pages_.push_back(req);
    resp.status.code = req.session == session_ ? rpc::ErrorCode::OK : rpc::ErrorCode::NOT_FOUND;
  }
  void Heartbeat(rpc::HeartbeatResponse& resp, const rpc::HeartbeatRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeats_.push_back(req);
    resp.status.code = rpc::ErrorCode::OK;
    resp.delete_chunks = std::move(delete_next_);
    delete_next_.clear();
    resp.reregister = reregister_next_;
    reregister_next_ = false;
  }

  void DeleteOnRegister(std::vector<int64_t> ids) {
    std::lock_guard<std::mutex> lock(mu_);
    delete_on_register_ = std::move(ids);
  }
  void DeleteNext(std::vector<int64_t> ids) {
    std::lock_guard<std::mutex> lock(mu_);
    delete_next_ = std::move(ids);
  }
  void Refuse(bool refuse) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = refuse;
  }
  void BeLegacy() {
    std::lock_guard<std::mutex> lock(mu_);
    legacy_ = true;
  }
  std::vector<rpc::ReportInventoryRequest> pages() {
    std::lock_guard<std::mutex> lock(mu_);
    return pages_;
  }
  void ReregisterNext() {
    std::lock_guard<std::mutex> lock(mu_);
    reregister_next_ = true;
  }
  std::vector<rpc::RegisterServerRequest> registrations() {
    std::lock_guard<std::mutex> lock(mu_);
    return registrations_;
  }
  std::vector<rpc::HeartbeatRequest> heartbeats() {
    std::lock_guard<std::mutex> lock(mu_);
    return heartbeats_;
  }

 private:
  std::mutex mu_;
  std::vector<rpc::RegisterServerRequest> registrations_;
  std::vector<rpc::HeartbeatRequest> heartbeats_;
  std::vector<int64_t> delete_on_register_;
  std::vector<int64_t> delete_next_;
  bool reregister_next_ = false;
  bool refuse_ = false;
  bool legacy_ = false;
  int64_t session_ = 100;
  std::vector<rpc::ReportInventoryRequest> pages_;
};

class MetaLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ChunkStore::Open({dir_.path()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    for (uint64_t id : {3, 5, 9}) {
      ASSERT_TRUE(store_->Write(id, id * 10, 0, std::span<const char>("abc", 3), false).ok());
    }
  }
  void TearDown() override {
    if (link_) link_->Stop();
    StopMeta();
  }

  void StartMeta() {
    auto server = RpcServer::Bind(std::make_shared<apache::thrift::TSingletonProcessorFactory>(
                                      std::make_shared<rpc::MetaServiceProcessor>(meta_)),
                                  "127.0.0.1", meta_port_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    serve_thread_ = std::thread([this] { server_->Serve(); });
  }
  void StopMeta() {
    if (server_) server_->Stop();
    if (serve_thread_.joinable()) serve_thread_.join();
    server_.reset();
  }
  // `before`: metaserver addresses tried ahead of the stand-in's.
  void StartLink(std::vector<Endpoint> before = {}, int retry_ms = 50, int rpc_timeout_ms = 5000) {
    MetaLinkOptions options;
    options.metas = std::move(before);
    options.metas.push_back({"127.0.0.1", meta_port_});
    options.host = "127.0.0.1";
    options.port = 9999;
    options.label = "rack7";
    options.retry_ms = retry_ms;
    options.refused_retry_ms = 100;
    options.rpc_timeout_ms = rpc_timeout_ms;
    link_ = std::make_unique<MetaLink>(options, store_, [this](int32_t id) { given_id_ = id; });
    link_->Start();
  }

  TempDir dir_;
  std::shared_ptr<ChunkStore> store_;
  std::shared_ptr<FakeMeta> meta_ = std::make_shared<FakeMeta>();
  int meta_port_ = FreePort();
  std::unique_ptr<RpcServer> server_;
  std::thread serve_thread_;
  std::unique_ptr<MetaLink> link_;
  std::atomic<int32_t> given_id_{0};
};

TEST_F(MetaLinkTest, RegistersWithTheInventoryThenHeartbeats) {
  StartMeta();
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return meta_->heartbeats().size() >= 2; }, kWait));
  auto regs = meta_->registrations();
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].uuid, store_->uuid());
  EXPECT_EQ(regs[0].host, "127.0.0.1");
  EXPECT_EQ(regs[0].port, 9999);
  EXPECT_EQ(regs[0].label, "rack7");
  EXPECT_GT(regs[0].capacity_bytes, 0);
  EXPECT_TRUE(regs[0].paged_inventory);
  EXPECT_EQ(regs[0].chunk_count, 3);
  EXPECT_TRUE(regs[0].inventory.empty());
  // In pages of at most the 2 entries the metaserver allows, sorted.
  auto pages = meta_->pages();
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0].server_id, 42);
  EXPECT_EQ(pages[0].session, 101);
  ASSERT_EQ(pages[0].entries.size(), 2u);
  EXPECT_EQ(pages[0].entries[1].chunk_id, 5);
  EXPECT_EQ(pages[0].entries[1].version, 50);
  EXPECT_FALSE(pages[0].last);
  ASSERT_EQ(pages[1].entries.size(), 1u);
  EXPECT_EQ(pages[1].entries[0].chunk_id, 9);
  EXPECT_TRUE(pages[1].last);
  EXPECT_EQ(given_id_.load(), 42);
  EXPECT_TRUE(link_->registered());
  auto hb = meta_->heartbeats();
  EXPECT_EQ(hb[0].server_id, 42);
  EXPECT_EQ(hb[0].chunk_count, 3);
  EXPECT_EQ(hb[0].session, 101);
}

TEST_F(MetaLinkTest, AMetaserverWithoutPagingGetsTheInventoryInline) {
  meta_->BeLegacy();
  StartMeta();
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return meta_->heartbeats().size() >= 1; }, kWait));
  auto regs = meta_->registrations();
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_FALSE(regs[0].paged_inventory);
  ASSERT_EQ(regs[0].inventory.size(), 3u);
  EXPECT_EQ(regs[0].inventory[2].chunk_id, 9);
  EXPECT_FALSE(meta_->heartbeats()[0].__isset.session);
}

TEST_F(MetaLinkTest, ARefusedRegistrationIsRetriedAndDeletesNothing) {
  meta_->Refuse(true);
  StartMeta();
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return meta_->registrations().size() >= 3; }, kWait));
  EXPECT_FALSE(link_->registered());
  EXPECT_TRUE(meta_->pages().empty());
  EXPECT_EQ(store_->chunk_count(), 3u);
  meta_->Refuse(false);
  ASSERT_TRUE(WaitFor([&] { return link_->registered(); }, kWait));
}

TEST_F(MetaLinkTest, DeletesWhatTheMetaserverSaysAndReportsIt) {
  meta_->DeleteOnRegister({3});
  StartMeta();
  StartLink();
  ASSERT_TRUE(WaitFor([&] { return link_->registered(); }, kWait));
  meta_->DeleteNext({9, 1234});  // 1234 is not stored: reported as gone too
  auto reported = [&] {
    std::multiset<int64_t> ids;
    for (const auto& hb : meta_->heartbeats())
      ids.insert(hb.deleted_chunks.begin(), hb.deleted_chunks.end());
    return ids;
  };
  ASSERT_TRUE(WaitFor([&] { return reported().size() >= 3; }, kWait));
  EXPECT_EQ(store_->Read(3, 0, 0, 3).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->Read(9, 0, 0, 3).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Read(5, 50, 0, 3).ok()) << store_->Read(5, 50, 0, 3).status();
  // Each is reported once, not again.
  size_t seen = meta_->heartbeats().size();
  ASSERT_TRUE(WaitFor([&] { return meta_->heartbeats().size() >= seen + 2; }, kWait));
  EXPECT_EQ(reported(), (std::multiset<int64_t>{3, 9, 1234}));
  EXPECT_EQ(meta_->heartbeats().back().chunk_count, 1);
}

TEST_F(MetaLinkTest, RegistersAgainWhenAskedAndAfterAnOutage) {
  StartLink();  // the metaserver is not there yet: the link keeps trying
  EXPECT_FALSE(WaitFor([&] { return link_->registered(); }, std::chrono::milliseconds(200)));
  StartMeta();
  ASSERT_TRUE(WaitFor([&] { return link_->registered(); }, kWait));
  meta_->ReregisterNext();
  ASSERT_TRUE(WaitFor([&] { return meta_->registrations().size() == 2; }, kWait));
  StopMeta();
  ASSERT_TRUE(WaitFor([&] { return !link_->registered(); }, kWait));
  StartMeta();
  ASSERT_TRUE(WaitFor([&] { return meta_->registrations().size() == 3; }, kWait));
  auto start = std::chrono::steady_clock::now();
  link_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(MetaLinkTest, AfterARoundOfFailuresTheAddressThatRefusedIsTriedBeforeTheOneThatTimedOut) {
  // The old active cut off by the network (its address accepts nothing
  // and never answers) and a standby that does not serve yet (refuses).
  // Once the standby serves, the link must register with it without first
  // waiting out the silent address's timeout again.
  const int silent_fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(silent_fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ASSERT_EQ(listen(silent_fd, 64), 0);  // completes connections, never accepts them
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_silent{silent_fd};

  // One round: the silent address (its call and one retry, 0.5 s each),
  // then the refusing one; then a pause of up to 2 s from the round's start.
  StartLink({{"127.0.0.1", ntohs(a.sin_port)}}, /*retry_ms=*/2000, /*rpc_timeout_ms=*/500);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // the first round has ended
  StartMeta();
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return link_->registered(); }, kWait));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // The next round starts at the stand-in about 0.7 s after it was
  // started; starting at the silent address again, it would reach the
  // stand-in a second later.
  EXPECT_LT(took, 1.4) << "registered " << took << " s after the standby began to serve";
}

}  // namespace
}  // namespace ddbfs::chunkserver
