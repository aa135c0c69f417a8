// Client call of ddbfs fsck (docs/repair.md, "fsck").

#include "client_impl.h"
#include "ddbfs/client.h"

namespace ddbfs {

Result<FsckPageView> Client::Fsck(const std::string& path, bool repair, int64_t after_chunk_id,
                                  int limit) {
  rpc::FsckRequest req;
  req.ctx = impl_->ReadContext();
  req.path = path;
  req.repair = repair;
  req.after_chunk_id = after_chunk_id;
  req.limit = limit;
  rpc::FsckResponse resp;
  RETURN_IF_ERROR(
      impl_->Meta("Fsck", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Fsck(r, req); }));
  FsckPageView out;
  for (const rpc::FsckChunk& c : resp.chunks) {
    FsckChunkView v;
    v.chunk_id = c.chunk_id;
    v.inode = c.inode;
    v.index = c.index;
    v.version = c.version;
    v.length = c.length;
    v.goal = c.goal;
    v.good = c.good;
    v.paths = c.paths;
    v.problems = c.problems;
    for (const rpc::FsckReplica& r : c.replicas) {
      FsckReplicaView rv;
      rv.server_id = r.server_id;
      rv.address = r.address;
      rv.alive = r.alive;
      rv.row_version = r.row_version;
      rv.disk_version = r.disk_version;
      rv.disk_length = r.disk_length;
      rv.corrupt = r.corrupt;
      rv.state = r.state;
      v.replicas.push_back(std::move(rv));
    }
    out.chunks.push_back(std::move(v));
  }
  for (const rpc::FsckOrphan& o : resp.orphans) {
    out.orphans.push_back(FsckOrphanView{o.server_id, o.chunk_id, o.version, o.length, o.age_ms,
                                         o.known_chunk, o.queued, o.__isset.held && o.held});
  }
  out.chunks_checked = resp.chunks_checked;
  out.orphans_not_listed = resp.orphans_not_listed;
  out.servers_not_checked.assign(resp.servers_not_checked.begin(), resp.servers_not_checked.end());
  out.next_after_chunk_id = resp.next_after_chunk_id;
  out.more = resp.more;
  out.repair_actions = resp.repair_actions;
  return out;
}

}  // namespace ddbfs
