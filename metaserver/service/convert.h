#pragma once

#include "ddbfs/client.h"
#include "ddbfs_types.h"
#include "metaserver/ops/chunk_ops.h"

namespace ddbfs::meta {

// Wire <-> ops types for the Thrift handler.

rpc::Attr ToWire(const Attr& a);
rpc::ServerAddress ToWire(const ServerAddr& a);
// Where chunk `index` is to be written (PrepareWrite, Create's first_chunk).
rpc::ChunkPlacement ToWire(int64_t index, const WritePlan& plan);
// The wire carries uid/gid as i32; the bit pattern is the uid_t.
Caller FromWire(const rpc::RequestContext& ctx);

}  // namespace ddbfs::meta
