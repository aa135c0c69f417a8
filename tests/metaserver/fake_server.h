#pragma once

// A fake chunk server for tests that talk to a real ddbfs-metaserver over
// Thrift: the registration only, no process behind it.

#include <gtest/gtest.h>

#include "MetaService.h"
#include "ddbfs/rpc.h"

namespace ddbfs::meta::testing {

// Registers a fake chunk server "u1" (127.0.0.1:9999, label h1, 1 TiB free)
// over `conn`; fails the test unless the metaserver accepts it.
inline rpc::RegisterServerResponse RegisterFakeServer(RpcConnection<rpc::MetaServiceClient>& conn) {
  rpc::RegisterServerRequest reg;
  reg.host = "127.0.0.1";
  reg.port = 9999;
  reg.label = "h1";
  reg.uuid = "u1";
  reg.capacity_bytes = 1ll << 40;
  rpc::RegisterServerResponse regr;
  EXPECT_TRUE(conn.Call([&](auto& c) { c.RegisterServer(regr, reg); }).ok());
  EXPECT_EQ(regr.status.code, rpc::ErrorCode::OK) << regr.status.message;
  return regr;
}

}  // namespace ddbfs::meta::testing
