// Client: connection, namespace operations and inspection. Every metaserver
// call goes through Impl::Meta (retry while the metaserver restarts).

#include "ddbfs/client.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>

#include <thrift/TOutput.h>

#include "client_impl.h"
#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "ddbfs/query.h"

namespace ddbfs {

namespace {

// Every component of an absolute path must be a valid name; catching an
// over-long one here gives the same NAME_TOO_LONG as a create would.
Status CheckPathComponents(std::string_view path) {
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.size() > kMaxNameLength) return CheckName(part);
    start = end + 1;
  }
  return Status();
}

template <typename Resp>
Result<Attr> AttrOf(const Status& s, const Resp& resp) {
  if (!s.ok()) return s;
  return FromRpc(resp.attr);
}

// Thrift prints transport failures straight to stderr; a client reports
// them as Status values instead, so they go to the log at debug level.
void RouteThriftOutput() {
  static std::once_flag once;
  std::call_once(once, [] {
    apache::thrift::GlobalOutput.setOutputFunction(
        [](const char* message) { LOG(kDebug) << "thrift: " << message; });
  });
}

// One Create RPC; with prepare_first_chunk the metaserver also places chunk 0.
Status CallCreate(Client::Impl* impl, InodeId parent, std::string_view name, uint32_t mode,
                  std::optional<int64_t> mtime_ns, std::optional<int> goal,
                  bool prepare_first_chunk, const std::vector<Tag>& tags,
                  rpc::CreateResponse* resp) {
  RETURN_IF_ERROR(CheckName(name));
  rpc::CreateRequest req;
  req.ctx = impl->Context();
  req.parent = parent;
  req.name = std::string(name);
  req.mode = static_cast<int32_t>(mode & 07777);
  if (goal) req.__set_goal(*goal);
  if (mtime_ns) req.__set_mtime_ns(*mtime_ns);
  req.prepare_first_chunk = prepare_first_chunk;
  if (!tags.empty()) req.__set_tags(ToRpc(tags));
  if (const int64_t session = Client::Impl::DeclaringSession(); session != 0) {
    req.__set_open_session(session);
  }
  Status s =
      impl->Meta("Create", resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Create(r, req); });
  Client::Impl::NoteOpenSetNeeded(s.ok() && resp->__isset.open_set_needed && resp->open_set_needed);
  return s;
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  ASSIGN_OR_RETURN(std::vector<Endpoint> metas, ParseAddressList(options.meta_address));
  RouteThriftOutput();
  ClientOptions opts = options;
  if (opts.caller.uid == 0 && opts.caller.gid == 0) {
    opts.caller.uid = ::getuid();
    opts.caller.gid = ::getgid();
    if (opts.caller.groups.empty()) {
      std::vector<gid_t> groups(static_cast<size_t>(std::max(0, ::getgroups(0, nullptr))));
      const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
      for (int i = 0; i < n; ++i) {
        if (groups[static_cast<size_t>(i)] != opts.caller.gid) {
          opts.caller.groups.push_back(groups[static_cast<size_t>(i)]);
        }
      }
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Transport> transport,
                   Transport::Create(opts.tls, opts.key));
  ASSIGN_OR_RETURN(std::shared_ptr<const Transport> chunk_transport,
                   Transport::Create(opts.tls, std::nullopt));
  auto impl = std::make_unique<Impl>(opts, metas, transport);
  impl->chunk_transport = chunk_transport;
  // One attempt only (at each address): a front end started against a
  // stopped metaserver should say so at once rather than wait out the
  // retry window.
  // (ResolvePath of "/": a key limited to a subtree reaches that one.)
  rpc::ResolvePathRequest req;
  req.__set_ctx(impl->ReadContext());
  req.path = "/";
  rpc::ResolvePathResponse resp;
  Status answer;
  for (size_t round = 0; round < impl->meta.size(); ++round) {
    size_t used = 0;
    Status call = impl->meta.Call([&](rpc::MetaServiceClient& c) { c.ResolvePath(resp, req); },
                                  /*retry=*/true, &used);
    if (!call.ok()) {
      if (call.code() == ErrorCode::kUnavailable) {
        return Unavailable(impl->UnreachableMessage(call.message()));
      }
      return call;
    }
    answer = FromRpc(resp.status);
    // A metaserver that is not (or no longer) the active one: the next.
    if (answer.code() != ErrorCode::kUnavailable) break;
    impl->meta.MoveOn(used);
  }
  if (answer.code() == ErrorCode::kUnauthenticated) {
    return Status(ErrorCode::kUnauthenticated,
                  "metaserver at " + impl->meta.current_address() +
                      " wants a key — put the `key = ...` line that `ddbfs key add` printed into "
                      "~/.config/ddbfs/client.conf, or use its Unix socket (docs/security.md)");
  }
  if (!answer.ok()) {
    return answer.WithContext("metaserver at " + impl->meta.current_address() + " is not ready");
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<Attr> Client::ResolvePath(std::string_view path) {
  RETURN_IF_ERROR(CheckPathComponents(path));
  rpc::ResolvePathRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.path = std::string(path);
  rpc::ResolvePathResponse resp;
  Status s = impl_->Meta("ResolvePath", &resp,
                         [&](rpc::MetaServiceClient& c, auto& r) { c.ResolvePath(r, req); });
  return AttrOf(s, resp);
}

Result<Attr> Client::Lookup(InodeId parent, std::string_view name) {
  RETURN_IF_ERROR(CheckName(name));
  rpc::LookupRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.parent = parent;
  req.name = std::string(name);
  rpc::LookupResponse resp;
  Status s =
      impl_->Meta("Lookup", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Lookup(r, req); });
  return AttrOf(s, resp);
}

std::string TagText(const Tag& t) { return t.value ? t.name + "=" + *t.value : t.name; }

Result<Tag> ParseTag(std::string_view text) {
  Tag t;
  const size_t eq = text.find('=');
  t.name = std::string(text.substr(0, eq));
  RETURN_IF_ERROR(query::ValidateTagName(t.name));
  if (eq != std::string_view::npos) {
    t.value = std::string(text.substr(eq + 1));
    RETURN_IF_ERROR(query::ValidateTagValue(*t.value));
  }
  return t;
}

Result<std::vector<Tag>> Client::SetTags(InodeId inode, const std::vector<Tag>& add,
                                         const std::vector<Tag>& remove) {
  rpc::SetTagsRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  req.add = ToRpc(add);
  req.remove = ToRpc(remove);
  rpc::SetTagsResponse resp;
  RETURN_IF_ERROR(impl_->Meta("SetTags", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.SetTags(r, req); }));
  return FromRpc(resp.tags);
}

Result<std::vector<Tag>> Client::GetTags(InodeId inode) {
  rpc::GetTagsRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = inode;
  rpc::GetTagsResponse resp;
  RETURN_IF_ERROR(impl_->Meta("GetTags", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.GetTags(r, req); }));
  return FromRpc(resp.tags);
}

Result<Client::QueryPage> Client::Query(std::string_view expr, InodeId after, int limit) {
  rpc::QueryRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.expr = std::string(expr);
  req.after_inode = after;
  req.limit = limit;
  rpc::QueryResponse resp;
  RETURN_IF_ERROR(
      impl_->Meta("Query", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Query(r, req); }));
  QueryPage page;
  page.hits.reserve(resp.entries.size());
  for (const rpc::QueryEntry& e : resp.entries) page.hits.push_back({e.path, FromRpc(e.attr)});
  page.next_after = resp.next_after;
  page.more = resp.more;
  return page;
}

Status Client::SaveQuery(std::string_view name, std::string_view expr) {
  rpc::SaveQueryRequest req;
  req.ctx = impl_->Context();
  req.name = std::string(name);
  req.expr = std::string(expr);
  rpc::SaveQueryResponse resp;
  return impl_->Meta("SaveQuery", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.SaveQuery(r, req); });
}

Status Client::DeleteQuery(std::string_view name) {
  rpc::DeleteQueryRequest req;
  req.ctx = impl_->Context();
  req.name = std::string(name);
  rpc::DeleteQueryResponse resp;
  return impl_->Meta("DeleteQuery", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.DeleteQuery(r, req); });
}

Result<std::vector<SavedQuery>> Client::ListQueries() {
  rpc::ListQueriesRequest req;
  req.__set_ctx(impl_->ReadContext());
  rpc::ListQueriesResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListQueries", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.ListQueries(r, req); }));
  std::vector<SavedQuery> out;
  for (const rpc::SavedQuery& q : resp.queries) {
    out.push_back(SavedQuery{q.name, q.expr, static_cast<uint32_t>(q.owner_uid)});
  }
  return out;
}

Result<Client::TagListPage> Client::ListTags(const std::optional<std::string>& within,
                                             const std::optional<std::string>& name, int offset,
                                             int limit) {
  rpc::ListTagsRequest req;
  req.__set_ctx(impl_->ReadContext());
  if (within) req.__set_within(*within);
  if (name) req.__set_name(*name);
  req.offset = offset;
  req.limit = limit;
  rpc::ListTagsResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListTags", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.ListTags(r, req); }));
  TagListPage page;
  page.tags.reserve(resp.tags.size());
  for (const rpc::TagCount& w : resp.tags) {
    TagCount t{w.name, std::nullopt, w.documents, w.bytes};
    if (w.__isset.value) t.value = w.value;
    page.tags.push_back(std::move(t));
  }
  page.more = resp.more;
  return page;
}

Result<Client::TagListPage> Client::ListTagNames(int offset, int limit) {
  rpc::ListTagsRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.__set_names_only(true);
  req.offset = offset;
  req.limit = limit;
  rpc::ListTagsResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListTags", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.ListTags(r, req); }));
  TagListPage page;
  page.tags.reserve(resp.tags.size());
  for (rpc::TagCount& w : resp.tags) page.tags.push_back(TagCount{std::move(w.name), {}, 0, 0});
  page.more = resp.more;
  return page;
}

Result<int> Client::TagMany(const std::vector<InodeId>& inodes, const std::vector<Tag>& add,
                            const std::vector<Tag>& remove) {
  rpc::TagManyRequest req;
  req.ctx = impl_->Context();
  req.inodes = inodes;
  req.add = ToRpc(add);
  req.remove = ToRpc(remove);
  rpc::TagManyResponse resp;
  RETURN_IF_ERROR(impl_->Meta("TagMany", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.TagMany(r, req); }));
  return resp.changed;
}

Result<int64_t> Client::TagAdmin(TagAdminOp op, std::string_view name, std::string_view other) {
  rpc::TagAdminRequest req;
  req.ctx = impl_->Context();
  switch (op) {
    case TagAdminOp::kCreate:
      req.op = rpc::TagAdminOp::CREATE;
      break;
    case TagAdminOp::kRename:
      req.op = rpc::TagAdminOp::RENAME;
      break;
    case TagAdminOp::kMerge:
      req.op = rpc::TagAdminOp::MERGE;
      break;
    case TagAdminOp::kDelete:
      req.op = rpc::TagAdminOp::DELETE;
      break;
    case TagAdminOp::kImply:
      req.op = rpc::TagAdminOp::IMPLY;
      break;
    case TagAdminOp::kUnimply:
      req.op = rpc::TagAdminOp::UNIMPLY;
      break;
  }
  req.name = std::string(name);
  req.other = std::string(other);
  rpc::TagAdminResponse resp;
  RETURN_IF_ERROR(impl_->Meta("TagAdmin", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.TagAdmin(r, req); }));
  return resp.documents;
}

Result<std::vector<std::pair<std::string, std::string>>> Client::ListImplications() {
  rpc::ListImplicationsRequest req;
  req.__set_ctx(impl_->ReadContext());
  rpc::ListImplicationsResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListImplications", &resp, [&](rpc::MetaServiceClient& c, auto& r) {
    c.ListImplications(r, req);
  }));
  std::vector<std::pair<std::string, std::string>> out;
  for (const rpc::TagRule& r : resp.rules) out.emplace_back(r.tag, r.implied);
  return out;
}

Result<Attr> Client::GetAttr(InodeId inode) {
  rpc::GetAttrRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = inode;
  rpc::GetAttrResponse resp;
  Status s =
      impl_->Meta("GetAttr", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.GetAttr(r, req); });
  return AttrOf(s, resp);
}

namespace {
// The parent directory's attributes a metaserver sent with the last entry
// change this thread made (Client::TakeDirAttr).
thread_local std::optional<Attr> last_dir_attr;

template <typename Resp>
void KeepDirAttr(const Status& s, const Resp& resp) {
  if (s.ok() && resp.__isset.dir_attr) last_dir_attr = FromRpc(resp.dir_attr);
}
}  // namespace

std::optional<Attr> Client::TakeDirAttr() {
  std::optional<Attr> out;
  out.swap(last_dir_attr);
  return out;
}

Result<Attr> Client::Mkdir(InodeId parent, std::string_view name, uint32_t mode) {
  last_dir_attr.reset();
  RETURN_IF_ERROR(CheckName(name));
  rpc::MkdirRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  req.mode = static_cast<int32_t>(mode & 07777);
  rpc::MkdirResponse resp;
  Status s =
      impl_->Meta("Mkdir", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Mkdir(r, req); });
  KeepDirAttr(s, resp);
  return AttrOf(s, resp);
}

Result<Attr> Client::Create(InodeId parent, std::string_view name, uint32_t mode,
                            std::optional<int64_t> mtime_ns, std::optional<int> goal,
                            const std::vector<Tag>& tags) {
  last_dir_attr.reset();
  rpc::CreateResponse resp;
  Status s = CallCreate(impl_.get(), parent, name, mode, mtime_ns, goal, false, tags, &resp);
  KeepDirAttr(s, resp);
  return AttrOf(s, resp);
}

Result<Attr> Client::Symlink(InodeId parent, std::string_view name, std::string_view target) {
  RETURN_IF_ERROR(CheckName(name));
  rpc::SymlinkRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  req.target = std::string(target);
  rpc::SymlinkResponse resp;
  Status s =
      impl_->Meta("Symlink", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Symlink(r, req); });
  return AttrOf(s, resp);
}

Result<Attr> Client::Mknod(InodeId parent, std::string_view name, FileType type, uint32_t mode,
                           uint64_t rdev) {
  RETURN_IF_ERROR(CheckName(name));
  rpc::MknodRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  req.type = static_cast<rpc::FileType::type>(static_cast<int>(type));
  req.mode = static_cast<int32_t>(mode);
  req.rdev = static_cast<int64_t>(rdev);
  rpc::MknodResponse resp;
  Status s =
      impl_->Meta("Mknod", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Mknod(r, req); });
  return AttrOf(s, resp);
}

Result<std::string> Client::Readlink(InodeId inode) {
  rpc::ReadlinkRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = inode;
  rpc::ReadlinkResponse resp;
  Status s = impl_->Meta("Readlink", &resp,
                         [&](rpc::MetaServiceClient& c, auto& r) { c.Readlink(r, req); });
  if (!s.ok()) return s;
  return resp.target;
}

Result<std::string> Client::GetXattr(InodeId inode, std::string_view name) {
  rpc::GetXattrRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = inode;
  req.name = std::string(name);
  rpc::GetXattrResponse resp;
  Status s = impl_->Meta("GetXattr", &resp,
                         [&](rpc::MetaServiceClient& c, auto& r) { c.GetXattr(r, req); });
  if (!s.ok()) return s;
  return resp.value;
}

Result<std::vector<std::string>> Client::ListXattr(InodeId inode) {
  rpc::ListXattrRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = inode;
  rpc::ListXattrResponse resp;
  Status s = impl_->Meta("ListXattr", &resp,
                         [&](rpc::MetaServiceClient& c, auto& r) { c.ListXattr(r, req); });
  if (!s.ok()) return s;
  return resp.names;
}

Status Client::SetXattr(InodeId inode, std::string_view name, std::string_view value, int flags) {
  rpc::SetXattrRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  req.name = std::string(name);
  req.value = std::string(value);
  req.flags = flags;
  rpc::SetXattrResponse resp;
  return impl_->Meta("SetXattr", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.SetXattr(r, req); });
}

Status Client::RemoveXattr(InodeId inode, std::string_view name) {
  rpc::RemoveXattrRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  req.name = std::string(name);
  rpc::RemoveXattrResponse resp;
  return impl_->Meta("RemoveXattr", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.RemoveXattr(r, req); });
}

Result<Attr> Client::Link(InodeId inode, InodeId new_parent, std::string_view new_name) {
  RETURN_IF_ERROR(CheckName(new_name));
  rpc::LinkRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  req.new_parent = new_parent;
  req.new_name = std::string(new_name);
  rpc::LinkResponse resp;
  Status s =
      impl_->Meta("Link", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Link(r, req); });
  return AttrOf(s, resp);
}

Status Client::Unlink(InodeId parent, std::string_view name) {
  return Unlink(parent, name, KeepOpen{}).status();
}

Status Client::Rmdir(InodeId parent, std::string_view name) {
  last_dir_attr.reset();
  RETURN_IF_ERROR(CheckName(name));
  rpc::RmdirRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  rpc::RmdirResponse resp;
  Status s =
      impl_->Meta("Rmdir", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Rmdir(r, req); });
  KeepDirAttr(s, resp);
  return s;
}

Status Client::Rename(InodeId parent, std::string_view name, InodeId new_parent,
                      std::string_view new_name, int flags) {
  return Rename(parent, name, new_parent, new_name, flags, KeepOpen{}).status();
}

namespace {
template <typename Req>
void SetKeep(const KeepOpen& keep, Req* req) {
  if (keep.session == 0) return;  // nothing open: a plain unlink or rename
  req->__set_session_id(keep.session);
  req->__set_open_inodes(keep.inodes);
}
}  // namespace

Result<InodeId> Client::Unlink(InodeId parent, std::string_view name, const KeepOpen& keep) {
  last_dir_attr.reset();
  RETURN_IF_ERROR(CheckName(name));
  rpc::UnlinkRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  SetKeep(keep, &req);
  rpc::UnlinkResponse resp;
  RETURN_IF_ERROR(
      impl_->Meta("Unlink", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Unlink(r, req); }));
  KeepDirAttr(Status(), resp);
  return resp.__isset.orphaned_inode ? resp.orphaned_inode : InodeId{0};
}

Result<InodeId> Client::Rename(InodeId parent, std::string_view name, InodeId new_parent,
                               std::string_view new_name, int flags, const KeepOpen& keep) {
  RETURN_IF_ERROR(CheckName(name));
  RETURN_IF_ERROR(CheckName(new_name));
  rpc::RenameRequest req;
  req.ctx = impl_->Context();
  req.parent = parent;
  req.name = std::string(name);
  req.new_parent = new_parent;
  req.new_name = std::string(new_name);
  req.flags = flags;
  SetKeep(keep, &req);
  rpc::RenameResponse resp;
  RETURN_IF_ERROR(
      impl_->Meta("Rename", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.Rename(r, req); }));
  return resp.__isset.orphaned_inode ? resp.orphaned_inode : InodeId{0};
}

Result<ClientSession> Client::OpenSession(std::string_view description) {
  rpc::OpenSessionRequest req;
  req.ctx = impl_->Context();
  req.description = std::string(description);
  rpc::OpenSessionResponse resp;
  RETURN_IF_ERROR(impl_->Meta("OpenSession", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.OpenSession(r, req); }));
  return ClientSession{resp.session_id, resp.timeout_ms};
}

Result<bool> Client::RenewSession(int64_t session) {
  rpc::RenewSessionRequest req;
  req.ctx = impl_->Context();
  req.session_id = session;
  rpc::RenewSessionResponse resp;
  RETURN_IF_ERROR(impl_->Meta("RenewSession", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.RenewSession(r, req); }));
  return resp.__isset.open_set_needed && resp.open_set_needed;
}

Result<int> Client::CloseSession(int64_t session) {
  rpc::CloseSessionRequest req;
  req.ctx = impl_->Context();
  req.session_id = session;
  rpc::CloseSessionResponse resp;
  RETURN_IF_ERROR(impl_->Meta("CloseSession", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.CloseSession(r, req); }));
  return resp.released;
}

Status Client::ReleaseOrphan(int64_t session, InodeId inode) {
  rpc::ReleaseOrphanRequest req;
  req.ctx = impl_->Context();
  req.session_id = session;
  req.inode = inode;
  rpc::ReleaseOrphanResponse resp;
  return impl_->Meta("ReleaseOrphan", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.ReleaseOrphan(r, req); });
}

Result<bool> Client::UpdateOpenFiles(int64_t session, const std::vector<InodeId>& opened,
                                     const std::vector<InodeId>& released, bool full_set) {
  rpc::UpdateOpenFilesRequest req;
  req.ctx = impl_->Context();
  req.session_id = session;
  req.opened = opened;
  req.released = released;
  req.full_set = full_set;
  rpc::UpdateOpenFilesResponse resp;
  RETURN_IF_ERROR(impl_->Meta("UpdateOpenFiles", &resp, [&](rpc::MetaServiceClient& c, auto& r) {
    c.UpdateOpenFiles(r, req);
  }));
  return resp.open_set_needed;
}

Result<DirPage> Client::ReadDir(InodeId dir, std::string_view after, int limit) {
  rpc::ReadDirRequest req;
  req.__set_ctx(impl_->ReadContext());
  req.inode = dir;
  req.after_name = std::string(after);
  req.limit = std::max(1, limit);
  rpc::ReadDirResponse resp;
  Status s =
      impl_->Meta("ReadDir", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.ReadDir(r, req); });
  if (!s.ok()) return s;
  DirPage page;
  page.more = resp.more;
  page.entries.reserve(resp.entries.size());
  for (const auto& e : resp.entries) page.entries.push_back(DirEntry{e.name, FromRpc(e.attr)});
  return page;
}

Result<std::vector<DirEntry>> Client::ListDir(InodeId dir) {
  std::vector<DirEntry> all;
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(DirPage page, ReadDir(dir, after, 1000));
    for (auto& e : page.entries) all.push_back(std::move(e));
    if (!page.more || page.entries.empty()) break;
    after = all.back().name;
  }
  return all;
}

Result<std::unique_ptr<FileReader>> Client::OpenReader(InodeId inode) {
  return NewFileReader(impl_.get(), inode);
}

Result<std::unique_ptr<FileWriter>> Client::OpenWriter(InodeId inode) {
  return NewFileWriter(impl_.get(), inode);
}

Result<CreatedFile> Client::CreateForWrite(InodeId parent, std::string_view name, uint32_t mode,
                                           std::optional<int64_t> mtime_ns, std::optional<int> goal,
                                           const std::vector<Tag>& tags) {
  last_dir_attr.reset();
  rpc::CreateResponse resp;
  RETURN_IF_ERROR(CallCreate(impl_.get(), parent, name, mode, mtime_ns, goal, true, tags, &resp));
  KeepDirAttr(Status(), resp);
  CreatedFile out;
  out.attr = FromRpc(resp.attr);
  std::optional<rpc::ChunkPlacement> first;
  // An older metaserver ignores prepare_first_chunk and never sets it.
  if (resp.__isset.first_chunk) first = std::move(resp.first_chunk);
  out.writer = NewCreatedFileWriter(impl_.get(), out.attr.inode, std::move(first));
  return out;
}

Result<ClusterView> Client::ClusterStatus() {
  rpc::ClusterStatusRequest req;
  req.__set_ctx(impl_->ReadContext());
  rpc::ClusterStatusResponse resp;
  Status s = impl_->Meta("ClusterStatus", &resp,
                         [&](rpc::MetaServiceClient& c, auto& r) { c.ClusterStatus(r, req); });
  if (!s.ok()) return s;
  ClusterView v;
  for (const auto& srv : resp.servers) {
    ServerView sv;
    sv.server_id = srv.address.server_id;
    sv.address = AddressOf(srv.address);
    sv.label = srv.label;
    if (srv.__isset.rack) sv.rack = srv.rack;
    sv.alive = srv.alive;
    sv.capacity_bytes = static_cast<uint64_t>(std::max<int64_t>(srv.capacity_bytes, 0));
    sv.used_bytes = static_cast<uint64_t>(std::max<int64_t>(srv.used_bytes, 0));
    sv.chunks = srv.chunks;
    sv.last_heartbeat_ms_ago = srv.last_heartbeat_ms_ago;
    sv.draining = srv.__isset.draining && srv.draining;
    if (srv.__isset.drain_chunks_left) sv.drain_chunks_left = srv.drain_chunks_left;
    v.servers.push_back(std::move(sv));
  }
  v.files = resp.files;
  v.directories = resp.directories;
  v.chunks = resp.chunks;
  v.chunks_under_goal = resp.chunks_under_goal;
  v.chunks_missing = resp.chunks_missing;
  v.pending_deletions = resp.pending_deletions;
  v.logical_bytes = static_cast<uint64_t>(std::max<int64_t>(resp.logical_bytes, 0));
  v.chunks_over_goal = resp.chunks_over_goal;
  v.repair_enabled = resp.repair_enabled;
  v.repair_copies_in_flight = resp.repair_copies_in_flight;
  v.repair_chunks_copied = resp.repair_chunks_copied;
  v.repair_bytes_copied = resp.repair_bytes_copied;
  v.repair_bytes_per_s = resp.repair_bytes_per_s;
  v.repair_copies_failed = resp.repair_copies_failed;
  v.repair_copies_discarded = resp.repair_copies_discarded;
  v.repair_replicas_trimmed = resp.repair_replicas_trimmed;
  if (resp.__isset.repair_scans) v.repair_scans = resp.repair_scans;
  if (resp.__isset.held_replicas) v.held_replicas = resp.held_replicas;
  if (resp.__isset.held_bytes) v.held_bytes = resp.held_bytes;
  if (resp.__isset.chunk_retention_s) v.chunk_retention_s = resp.chunk_retention_s;
  if (resp.__isset.rebalance_margin_pct) v.rebalance_margin_pct = resp.rebalance_margin_pct;
  if (resp.__isset.rebalance_gap_pct) v.rebalance_gap_pct = resp.rebalance_gap_pct;
  if (resp.__isset.rebalance_moves_in_flight) {
    v.rebalance_moves_in_flight = resp.rebalance_moves_in_flight;
  }
  if (resp.__isset.rebalance_chunks_moved) v.rebalance_chunks_moved = resp.rebalance_chunks_moved;
  if (resp.__isset.rebalance_bytes_moved) v.rebalance_bytes_moved = resp.rebalance_bytes_moved;
  if (resp.__isset.rebalance_bytes_per_s) v.rebalance_bytes_per_s = resp.rebalance_bytes_per_s;
  return v;
}

namespace {

ExportKeyInfo KeyFromRpc(const rpc::ExportKey& k) {
  ExportKeyInfo out;
  out.key_id = k.key_id;
  out.name = k.name;
  out.networks = k.networks;
  out.read_only = k.read_only;
  out.subtree = k.subtree;
  out.mapall = k.identity == "mapall";
  out.map_uid = static_cast<uint32_t>(k.map_uid);
  out.map_gid = static_cast<uint32_t>(k.map_gid);
  out.maproot_uid = static_cast<uint32_t>(k.maproot_uid);
  out.maproot_gid = static_cast<uint32_t>(k.maproot_gid);
  out.admin = k.admin;
  out.created_ms = k.created_ms;
  out.revoked = k.revoked;
  return out;
}

}  // namespace

Result<Identity> Client::WhoAmI() {
  rpc::WhoAmIRequest req;
  req.__set_ctx(impl_->ReadContext());
  rpc::WhoAmIResponse resp;
  RETURN_IF_ERROR(
      impl_->Meta("WhoAmI", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.WhoAmI(r, req); }));
  Identity out;
  out.principal = resp.principal;
  out.caller.uid = static_cast<uint32_t>(resp.uid);
  out.caller.gid = static_cast<uint32_t>(resp.gid);
  for (int32_t g : resp.groups) out.caller.groups.push_back(static_cast<uint32_t>(g));
  out.read_only = resp.read_only;
  out.admin = resp.admin;
  out.subtree = resp.subtree;
  return out;
}

Result<std::pair<ExportKeyInfo, std::string>> Client::AddKey(const ExportKeyInfo& key) {
  rpc::AddKeyRequest req;
  req.ctx = impl_->ReadContext();
  req.key.name = key.name;
  req.key.networks = key.networks;
  req.key.read_only = key.read_only;
  req.key.subtree = key.subtree;
  req.key.identity = key.mapall ? "mapall" : "trusted";
  req.key.map_uid = static_cast<int32_t>(key.map_uid);
  req.key.map_gid = static_cast<int32_t>(key.map_gid);
  req.key.maproot_uid = static_cast<int32_t>(key.maproot_uid);
  req.key.maproot_gid = static_cast<int32_t>(key.maproot_gid);
  req.key.admin = key.admin;
  rpc::AddKeyResponse resp;
  // Not retried on a lost answer: a retry would make a second key.
  Status s = impl_->meta.Call([&](rpc::MetaServiceClient& c) { c.AddKey(resp, req); }, false);
  if (s.ok()) s = FromRpc(resp.status);
  if (!s.ok()) return s;
  return std::make_pair(KeyFromRpc(resp.key), resp.secret);
}

Result<std::vector<ExportKeyInfo>> Client::ListKeys() {
  rpc::ListKeysRequest req;
  req.ctx = impl_->ReadContext();
  rpc::ListKeysResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListKeys", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.ListKeys(r, req); }));
  std::vector<ExportKeyInfo> out;
  for (const auto& k : resp.keys) out.push_back(KeyFromRpc(k));
  return out;
}

Status Client::RevokeKey(const std::string& key_id) {
  rpc::RevokeKeyRequest req;
  req.ctx = impl_->ReadContext();
  req.key_id = key_id;
  rpc::RevokeKeyResponse resp;
  return impl_->Meta("RevokeKey", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.RevokeKey(r, req); });
}

}  // namespace ddbfs
