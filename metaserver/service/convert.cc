#include "metaserver/service/convert.h"

namespace ddbfs::meta {

rpc::Attr ToWire(const Attr& a) {
  rpc::Attr out;
  out.inode = a.inode;
  out.type = static_cast<rpc::FileType::type>(static_cast<int>(a.type));
  out.mode = static_cast<int32_t>(a.mode);
  out.uid = static_cast<int32_t>(a.uid);
  out.gid = static_cast<int32_t>(a.gid);
  out.size = static_cast<int64_t>(a.size);
  out.atime_ns = a.atime_ns;
  out.mtime_ns = a.mtime_ns;
  out.ctime_ns = a.ctime_ns;
  out.nlink = static_cast<int32_t>(a.nlink);
  out.goal = a.goal;
  out.rdev = static_cast<int64_t>(a.rdev);
  out.allocated = static_cast<int64_t>(a.allocated);
  out.__set_has_xattrs(a.has_xattrs || !a.acl_access.empty() || !a.acl_default.empty());
  return out;
}

rpc::ServerAddress ToWire(const ServerAddr& a) {
  rpc::ServerAddress out;
  out.server_id = a.server_id;
  out.host = a.host;
  out.port = a.port;
  return out;
}

rpc::ChunkPlacement ToWire(int64_t index, const WritePlan& plan) {
  rpc::ChunkPlacement out;
  out.index = index;
  out.chunk_id = plan.chunk_id;
  out.version = plan.version;
  out.length = plan.length;
  out.replicas.reserve(plan.replicas.size());
  for (const ServerAddr& a : plan.replicas) out.replicas.push_back(ToWire(a));
  out.lease_id = plan.lease_id;
  out.lease_ms = plan.lease_ms;
  return out;
}

Caller FromWire(const rpc::RequestContext& ctx) {
  Caller c;
  c.uid = static_cast<uint32_t>(ctx.uid);
  c.gid = static_cast<uint32_t>(ctx.gid);
  return c;
}

}  // namespace ddbfs::meta
