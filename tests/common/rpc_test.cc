#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ddbfs
