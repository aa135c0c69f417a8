// libddbfs retries a mutation whose reply was lost with the same request id,
// so the retry gets the first answer (docs/protocol.md, "Exactly-once
// mutations"). A proxy between the client and the metaserver drops a reply.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "test_cluster.h"

namespace ddbfs::testing {
namespace {

// A TCP proxy on a free loopback port to 127.0.0.1:upstream. After
// LoseNextReply(), the next bytes the upstream sends are dropped and both
// sides of that connection are closed: the request was served, its reply
// lost. Thread-safe.
class LossyProxy {
 public:
  explicit LossyProxy(int upstream) : upstream_(upstream) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~LossyProxy() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : pumps_) t.join();
    close(listener_);
  }

  int port() const { return port_; }
  void LoseNextReply() { lose_next_ = true; }
  int lost() const { return lost_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      int client = accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      pumps_.emplace_back([this, client] { Pump(client); });
    }
  }

  void Pump(int client) {
    int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_));
    if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      char buf[65536];
      while (!stop_) {
        pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (poll(fds, 2, 100) < 0) break;
        if (fds[0].revents) {
          ssize_t n = read(client, buf, sizeof(buf));
          if (n <= 0 || write(server, buf, static_cast<size_t>(n)) != n) break;
        }
        if (fds[1].revents) {
          ssize_t n = read(server, buf, sizeof(buf));
          if (n <= 0) break;
          if (lose_next_.exchange(false)) {
            ++lost_;
            break;
          }
          if (write(client, buf, static_cast<size_t>(n)) != n) break;
        }
      }
    }
    close(server);
    close(client);
  }

  const int upstream_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> lose_next_{false};
  std::atomic<int> lost_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;  // GUARDED_BY(mu_)
};

TEST(RequestIdTest, MutationsWhoseReplyWasLostAreAnsweredOnce) {
  ClusterOptions o;
  o.chunk_servers = 0;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  const std::string meta = cluster->meta_tcp_address();
  LossyProxy proxy(std::stoi(meta.substr(meta.rfind(':') + 1)));
  ClientOptions opts;
  opts.meta_address = "127.0.0.1:" + std::to_string(proxy.port());
  // Over TCP a client proves a key; the cluster key stands in for one.
  opts.key = Credential{"cluster", *ReadSecretFile(cluster->cluster_key_file())};
  opts.meta_retry_ms = 5000;
  auto connected = Client::Connect(opts);
  ASSERT_TRUE(connected.ok()) << connected.status();
  Client& client = **connected;

  // Create: without a request id the retry would answer EXISTS.
  proxy.LoseNextReply();
  auto created = client.Create(kRootInode, "a", 0644);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(proxy.lost(), 1);
  auto looked = client.Lookup(kRootInode, "a");
  ASSERT_TRUE(looked.ok()) << looked.status();
  EXPECT_EQ(looked->inode, created->inode);

  // Rename and Unlink: without one the retry would answer NOT_FOUND.
  proxy.LoseNextReply();
  Status renamed = client.Rename(kRootInode, "a", kRootInode, "b");
  EXPECT_TRUE(renamed.ok()) << renamed;
  proxy.LoseNextReply();
  Status unlinked = client.Unlink(kRootInode, "b");
  EXPECT_TRUE(unlinked.ok()) << unlinked;
  EXPECT_EQ(proxy.lost(), 3);
  EXPECT_EQ(client.Lookup(kRootInode, "b").status().code(), ErrorCode::kNotFound);

  // A new call is a new request: Create of a taken name is EXISTS again.
  ASSERT_TRUE(client.Create(kRootInode, "c", 0644).ok());
  EXPECT_EQ(client.Create(kRootInode, "c", 0644).status().code(), ErrorCode::kExists);
}

}  // namespace
}  // namespace ddbfs::testing
