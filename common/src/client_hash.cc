// Client calls about content hashes (docs/content_hash.md).

#include "client_impl.h"
#include "ddbfs/client.h"

namespace ddbfs {

Result<Client::ContentHash> Client::GetContentHash(InodeId inode) {
  rpc::GetContentHashRequest req;
  req.ctx = impl_->ReadContext();
  req.inode = inode;
  rpc::GetContentHashResponse resp;
  RETURN_IF_ERROR(impl_->Meta("GetContentHash", &resp, [&](rpc::MetaServiceClient& c, auto& r) {
    c.GetContentHash(r, req);
  }));
  ContentHash out;
  if (resp.__isset.sha256) out.sha256 = resp.sha256;
  out.size = static_cast<uint64_t>(std::max<int64_t>(resp.size, 0));
  out.stale_chunks = resp.stale_chunks;
  return out;
}

Result<Client::DuplicatesPage> Client::FindDuplicates(InodeId under, bool empty,
                                                      const std::optional<std::string>& token) {
  rpc::FindDuplicatesRequest req;
  req.ctx = impl_->ReadContext();
  req.under = under;
  req.empty = empty;
  if (token) req.__set_page_token(*token);
  rpc::FindDuplicatesResponse resp;
  RETURN_IF_ERROR(impl_->Meta("FindDuplicates", &resp, [&](rpc::MetaServiceClient& c, auto& r) {
    c.FindDuplicates(r, req);
  }));
  DuplicatesPage page;
  page.entries.reserve(resp.entries.size());
  for (rpc::DuplicateEntry& e : resp.entries) {
    page.entries.push_back({std::move(e.path), FromRpc(e.attr), std::move(e.sha256)});
  }
  page.stale = resp.stale;
  if (resp.__isset.page_token) page.next = std::move(resp.page_token);
  return page;
}

}  // namespace ddbfs
