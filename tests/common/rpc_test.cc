#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "MetaService.h"
#include "ddbfs/rpc.h"

namespace ddbfs {
namespace {

TEST(RpcTest, StatusRoundTripsThroughTheWire) {
  Status s(ErrorCode::kNotEmpty, "/a is not empty");
  Status back = FromRpc(ToRpc(s));
  EXPECT_EQ(back.code(), ErrorCode::kNotEmpty);
  EXPECT_EQ(back.message(), "/a is not empty");
  EXPECT_TRUE(FromRpc(ToRpc(Status())).ok());
}

TEST(RpcTest, ParseHostPortAcceptsGoodAndRejectsBadAddresses) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9400", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9400);
  for (const char* bad : {"", "127.0.0.1", ":9400", "h:", "h:0", "h:70000", "h:12x"}) {
    EXPECT_EQ(ParseHostPort(bad, &host, &port).code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(RpcTest, UnreachableServerIsUnavailableNotAnException) {
  // Port 1 on loopback: nothing listens there.
  RpcConnection<rpc::MetaServiceClient> conn("127.0.0.1", 1, 1000);
  bool called = false;
  Status s = conn.Call([&](rpc::MetaServiceClient& c) {
    called = true;
    rpc::GetAttrResponse resp;
    c.GetAttr(resp, rpc::GetAttrRequest());
  });
  EXPECT_FALSE(called);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.message().find("127.0.0.1:1"), std::string::npos) << s.message();
}

// A TCP socket on loopback; listening, it completes connections but never
// accepts them, so a call there waits for its timeout. Its port.
struct LoopbackSocket {
  explicit LoopbackSocket(bool listening) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
    if (listening) {
      EXPECT_EQ(listen(fd, 64), 0);
    }
  }
  ~LoopbackSocket() { close(fd); }
  int fd = -1;
  int port = 0;
};

TEST(RpcTest, FailoverPoolKeepsCallsAwayFromAnAddressThatTimedOut) {
  // A host cut off (the old active) times out; a standby that is not yet
  // active refuses at once. Both fail every call here; whichever address
  // a call starts at, the next one must start at the refusing one, or
  // after the takeover a caller first waits out the dead host's timeout.
  LoopbackSocket silent(/*listening=*/true);
  LoopbackSocket closed(/*listening=*/false);  // bound, not listening: refuses
  const std::string refusing = "127.0.0.1:" + std::to_string(closed.port);
  RpcFailoverPool<rpc::MetaServiceClient> pool(
      {Endpoint{"127.0.0.1", silent.port}, Endpoint{"127.0.0.1", closed.port}}, 300);
  auto call = [](rpc::MetaServiceClient& c) {
    rpc::GetAttrResponse resp;
    c.GetAttr(resp, rpc::GetAttrRequest());
  };
  ASSERT_EQ(pool.current_address(), "127.0.0.1:" + std::to_string(silent.port));
  for (int i = 0; i < 3; ++i) {
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(pool.Call(call).code(), ErrorCode::kUnavailable);
    // Both addresses were tried: the silent one's timeout passed.
    EXPECT_GE(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(250));
    EXPECT_EQ(pool.current_address(), refusing) << "after call " << i;
  }
  // Once it serves, the new active may answer "unavailable" (it waits for
  // its chunk servers): the next call must not detour through the silent
  // address.
  pool.MoveOn(1);
  EXPECT_EQ(pool.current_address(), refusing);
}

TEST(RpcTest, FailoverPoolRotatesWhenEveryAddressRefuses) {
  LoopbackSocket a(/*listening=*/false), b(/*listening=*/false);
  RpcFailoverPool<rpc::MetaServiceClient> pool(
      {Endpoint{"127.0.0.1", a.port}, Endpoint{"127.0.0.1", b.port}}, 300);
  auto call = [](rpc::MetaServiceClient& c) {
    rpc::GetAttrResponse resp;
    c.GetAttr(resp, rpc::GetAttrRequest());
  };
  EXPECT_EQ(pool.Call(call).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(pool.current_address(), "127.0.0.1:" + std::to_string(b.port));
  EXPECT_EQ(pool.Call(call).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(pool.current_address(), "127.0.0.1:" + std::to_string(a.port));
  // An answer "unavailable" (a metaserver that lost its lock) moves the
  // next call on to an address that refused quickly.
  pool.MoveOn(0);
  EXPECT_EQ(pool.current_address(), "127.0.0.1:" + std::to_string(b.port));
}

}  // namespace
}  // namespace ddbfs
