#include "tag_views.h"

#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "ddbfs/log.h"
#include "ddbfs/query.h"

namespace ddbfs::fuse {

namespace {

// At most this many view nodes and listings are kept; past it they are
// forgotten (a number the kernel still holds then answers ESTALE).
constexpr size_t kMaxNodes = 1 << 20;
constexpr size_t kMaxListings = 256;

constexpr char kSep = '\x1f';
constexpr char kValueSep = '\x1e';
constexpr std::string_view kTagsXattr = "user.ddbfs.tags";
constexpr std::string_view kTagXattrPrefix = "user.ddbfs.tag.";

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A word of the query language that means exactly `s` (docs/query_language.md).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ExprOf(const std::vector<Tag>& terms) {
  std::string out;
  for (const Tag& t : terms) {
    if (!out.empty()) out += " and ";
    out += Quote(t.name);
    if (t.value) out += "=" + Quote(*t.value);
  }
  return out;
}

std::string KeyOf(const std::vector<Tag>& terms) {
  std::string key = "T";
  for (const Tag& t : terms) {
    key += kSep + t.name;
    if (t.value) key += kValueSep + *t.value;
  }
  return key;
}

// "%2F" is '/' and "%25" is '%' in a .query/ name; any other '%' stays.
std::string Unescape(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size()) {
      const std::string_view code = name.substr(i + 1, 2);
      if (code == "2F" || code == "2f") {
        out += '/';
        i += 2;
        continue;
      }
      if (code == "25") {
        out += '%';
        i += 2;
        continue;
      }
    }
    out += name[i];
  }
  return out;
}

// name.<inode>.ext: the form of a document's name that is unique in a
// listing (a leading dot does not start an extension).
std::string WithInode(const std::string& name, InodeId inode) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return name + "." + std::to_string(inode);
  return name.substr(0, dot) + "." + std::to_string(inode) + name.substr(dot);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a final newline
  return out;
}

}  // namespace

TagViews::TagViews(Client* const* client, double ttl)
    : client_(client),
      ttl_(static_cast<int64_t>(ttl * 1000)),
      uid_(::getuid()),
      gid_(::getgid()),
      started_ns_(WallNs()) {}

std::shared_ptr<const TagViews::Node> TagViews::NodeFor(const std::string& key, Node proto) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    auto n = nodes_.find(it->second);
    if (n != nodes_.end()) {
      // A link's document may have changed (times, owner): the newer answer.
      if (proto.kind == Kind::kLink) {
        proto.key = key;
        proto.attr.inode = it->second;
        n->second = std::make_shared<const Node>(std::move(proto));
      }
      return n->second;
    }
  }
  if (nodes_.size() >= kMaxNodes) {
    nodes_.clear();
    by_key_.clear();
    listings_.clear();
  }
  const InodeId id = next_++;
  proto.key = key;
  proto.attr.inode = id;
  auto node = std::make_shared<const Node>(std::move(proto));
  nodes_[id] = node;
  by_key_[key] = id;
  return node;
}

std::shared_ptr<const TagViews::Node> TagViews::Get(InodeId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second;
}

Attr TagViews::DirAttr(InodeId id) const {
  Attr a;
  a.inode = id;
  a.type = FileType::kDirectory;
  a.mode = 0777;
  a.uid = uid_;
  a.gid = gid_;
  a.nlink = 2;
  a.atime_ns = a.mtime_ns = a.ctime_ns = started_ns_;
  return a;
}

Result<Attr> TagViews::LookupRoot(std::string_view name) {
  Node proto;
  proto.kind = name == ".tags" ? Kind::kTagsRoot : Kind::kQueryRoot;
  proto.depth = 1;
  auto node = NodeFor(std::string(name), std::move(proto));
  return DirAttr(node->attr.inode);
}

Result<std::shared_ptr<const TagViews::Node>> TagViews::TagDirNode(
    const std::shared_ptr<const Node>& parent, std::string_view name) {
  Node proto;
  proto.kind = Kind::kTagDir;
  proto.depth = parent->depth + 1;
  proto.terms = parent->terms;
  if (name.starts_with("=")) {
    if (proto.terms.empty() || proto.terms.back().value) {
      return NotFound("a =VALUE folder is only under a tag's own folder");
    }
    const std::string value(name.substr(1));
    RETURN_IF_ERROR(query::ValidateTagValue(value));
    proto.terms.back().value = value;
  } else {
    RETURN_IF_ERROR(query::ValidateTagName(name));
    proto.terms.push_back(Tag{std::string(name), std::nullopt});
  }
  proto.expr = ExprOf(proto.terms);
  const std::string key = KeyOf(proto.terms) + kSep + std::to_string(proto.depth);
  return NodeFor(key, std::move(proto));
}

Result<std::shared_ptr<const TagViews::Node>> TagViews::QueryDirNode(std::string_view name) {
  std::string expr;
  ASSIGN_OR_RETURN(std::vector<SavedQuery> saved, client().ListQueries());
  for (const SavedQuery& q : saved) {
    if (q.name == name) expr = q.expr;
  }
  if (expr.empty()) expr = Unescape(name);
  if (Result<std::unique_ptr<query::Node>> parsed = query::Parse(expr); !parsed.ok()) {
    LOG(kWarn) << ".query/" << name << ": " << parsed.status().message();
    return parsed.status();
  }
  Node proto;
  proto.kind = Kind::kQueryDir;
  proto.depth = 2;
  proto.expr = expr;
  return NodeFor(std::string("Q") + kSep + std::string(name) + kSep + expr, std::move(proto));
}

Result<TagViews::Listing> TagViews::Fill(const Node& dir) {
  Listing out;
  out.at = std::chrono::steady_clock::now();
  std::set<std::string> dir_names;
  auto add_dir = [&](const std::string& name, const std::shared_ptr<const Node>& node) {
    if (!dir_names.insert(name).second) return;
    out.entries.push_back(DirEntry{name, DirAttr(node->attr.inode)});
  };
  // Tag names (and values) as folders.
  if (dir.kind == Kind::kTagsRoot || dir.kind == Kind::kTagDir) {
    std::optional<std::string> within;
    if (dir.kind == Kind::kTagDir) within = dir.expr;
    std::set<std::string> used;
    for (const Tag& t : dir.terms) used.insert(t.name);
    const bool values = dir.kind == Kind::kTagDir && !dir.terms.back().value;
    for (int pass = 0; pass < (values ? 2 : 1); ++pass) {
      std::optional<std::string> of;
      if (pass == 1) of = dir.terms.back().name;
      for (int offset = 0;;) {
        // .tags/ itself: every name, no counts needed.
        ASSIGN_OR_RETURN(Client::TagListPage page,
                         dir.kind == Kind::kTagsRoot
                             ? client().ListTagNames(offset, 100000)
                             : client().ListTags(within, of, offset, 100000));
        for (const TagCount& t : page.tags) {
          if (pass == 0 && used.count(t.name)) continue;
          const std::string name = pass == 1 ? "=" + *t.value : t.name;
          Node parent;
          parent.depth = dir.depth;
          parent.terms = dir.terms;
          auto node = TagDirNode(std::make_shared<const Node>(parent), name);
          if (node.ok()) add_dir(name, *node);
        }
        if (!page.more) break;
        offset += static_cast<int>(page.tags.size());
      }
    }
  }
  if (dir.kind == Kind::kQueryRoot) {
    ASSIGN_OR_RETURN(std::vector<SavedQuery> saved, client().ListQueries());
    for (const SavedQuery& q : saved) {
      auto node = QueryDirNode(q.name);
      if (node.ok()) add_dir(q.name, *node);
    }
  }
  // Documents as links to their paths.
  if (dir.kind == Kind::kTagDir || dir.kind == Kind::kQueryDir) {
    std::vector<Client::QueryHit> hits;
    for (InodeId after = 0;;) {
      ASSIGN_OR_RETURN(Client::QueryPage page, client().Query(dir.expr, after));
      for (Client::QueryHit& h : page.hits) hits.push_back(std::move(h));
      if (!page.more) break;
      after = page.next_after;
    }
    std::map<std::string, int> uses;
    for (const Client::QueryHit& h : hits) ++uses[Basename(h.path)];
    std::string up;
    for (int i = 0; i < dir.depth; ++i) up += "../";
    for (const Client::QueryHit& h : hits) {
      if (h.path == "/") continue;
      const std::string base = Basename(h.path);
      const bool clash = uses[base] > 1 || dir_names.count(base) > 0;
      const std::string name = clash ? WithInode(base, h.attr.inode) : base;
      Node proto;
      proto.kind = Kind::kLink;
      proto.depth = dir.depth + 1;
      proto.target = up + h.path.substr(1);
      proto.attr = h.attr;
      proto.attr.type = FileType::kSymlink;
      proto.attr.mode = 0777;
      proto.attr.size = proto.target.size();
      proto.attr.nlink = 1;
      auto node = NodeFor(dir.key + kSep + "L" + std::to_string(h.attr.inode), std::move(proto));
      out.entries.push_back(DirEntry{name, node->attr});
      out.docs[name] = h.attr.inode;
      out.docs[WithInode(base, h.attr.inode)] = h.attr.inode;
    }
  }
  return out;
}

std::shared_ptr<const TagViews::Listing> TagViews::RecentListing(InodeId dir, uint32_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listings_.find(std::make_pair(dir, uid));
  if (it != listings_.end() && std::chrono::steady_clock::now() - it->second->at < ttl_) {
    return it->second;
  }
  return nullptr;
}

Result<std::shared_ptr<const TagViews::Listing>> TagViews::ListingOf(InodeId dir, uint32_t uid,
                                                                     bool fresh) {
  std::shared_ptr<const Node> node = Get(dir);
  if (!node) return Status(ErrorCode::kNotFound, "the view was forgotten; look it up again");
  if (node->kind == Kind::kLink) return Status(ErrorCode::kNotDir, "a document link");
  const auto key = std::make_pair(dir, uid);
  if (!fresh) {
    if (std::shared_ptr<const Listing> recent = RecentListing(dir, uid)) return recent;
  }
  ASSIGN_OR_RETURN(Listing l, Fill(*node));
  auto shared = std::make_shared<const Listing>(std::move(l));
  std::lock_guard<std::mutex> lock(mu_);
  if (listings_.size() >= kMaxListings) listings_.clear();
  listings_[key] = shared;
  return shared;
}

Result<Attr> TagViews::Lookup(InodeId parent, std::string_view name, uint32_t uid) {
  std::shared_ptr<const Node> dir = Get(parent);
  if (!dir) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (dir->kind == Kind::kLink) return Status(ErrorCode::kNotDir, "a document link");
  if (dir->kind == Kind::kQueryRoot) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Node> q, QueryDirNode(name));
    return DirAttr(q->attr.inode);
  }
  // A name found in a recent listing is answered from it; one not found
  // is looked for again in a fresh one (another client may have just
  // tagged). Before that, a tag's folder under a tag's folder is found
  // without listing the documents of the parent (one query of a page of
  // one document: some document carries them all), which may be many:
  // .tags/important/ of a million documents holds 100,000.
  auto find_in = [&](const Listing& l) -> std::optional<Attr> {
    for (const DirEntry& e : l.entries) {
      if (e.name == name) return e.attr;
    }
    auto doc = l.docs.find(std::string(name));
    if (doc != l.docs.end()) {
      for (const DirEntry& e : l.entries) {
        auto d = l.docs.find(e.name);
        if (d != l.docs.end() && d->second == doc->second) return e.attr;
      }
    }
    return std::nullopt;
  };
  if (std::shared_ptr<const Listing> recent = RecentListing(parent, uid)) {
    if (std::optional<Attr> a = find_in(*recent)) return *a;
  }
  if (dir->kind == Kind::kTagDir) {
    Result<std::shared_ptr<const Node>> sub = TagDirNode(dir, name);
    if (sub.ok()) {
      ASSIGN_OR_RETURN(Client::QueryPage page, client().Query((*sub)->expr, 0, 1));
      if (!page.hits.empty()) return DirAttr((*sub)->attr.inode);
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Listing> l, ListingOf(parent, uid, /*fresh=*/true));
  if (std::optional<Attr> a = find_in(*l)) return *a;
  return Status(ErrorCode::kNotFound, "not in this view");
}

Result<Attr> TagViews::GetAttr(InodeId id) {
  std::shared_ptr<const Node> node = Get(id);
  if (!node) return Status(ErrorCode::kNotFound, "the view was forgotten");
  return node->kind == Kind::kLink ? node->attr : DirAttr(id);
}

Result<std::string> TagViews::Readlink(InodeId id) {
  std::shared_ptr<const Node> node = Get(id);
  if (!node) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (node->kind != Kind::kLink) return InvalidArgument("not a link");
  return node->target;
}

Result<std::vector<DirEntry>> TagViews::List(InodeId dir, uint32_t uid) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Listing> l, ListingOf(dir, uid, true));
  return l->entries;
}

Result<Attr> TagViews::Mkdir(InodeId parent, std::string_view name) {
  std::shared_ptr<const Node> dir = Get(parent);
  if (!dir) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (dir->kind != Kind::kTagsRoot && dir->kind != Kind::kTagDir) {
    return Status(ErrorCode::kNotPermitted, "folders here are not tags");
  }
  if (name.starts_with("=")) return Status(ErrorCode::kNotPermitted, "a value is not made alone");
  RETURN_IF_ERROR(query::ValidateTagName(name));
  RETURN_IF_ERROR(client().TagAdmin(Client::TagAdminOp::kCreate, name).status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    listings_.clear();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Node> node, TagDirNode(dir, name));
  return DirAttr(node->attr.inode);
}

Status TagViews::Rmdir(InodeId parent, std::string_view name) {
  std::shared_ptr<const Node> dir = Get(parent);
  if (!dir) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (dir->kind != Kind::kTagsRoot) {
    return Status(ErrorCode::kNotPermitted, "only a tag in .tags/ itself is removed with rmdir");
  }
  RETURN_IF_ERROR(query::ValidateTagName(name));
  ASSIGN_OR_RETURN(Client::QueryPage page, client().Query(Quote(name), 0, 1));
  if (!page.hits.empty()) {
    return Status(ErrorCode::kNotEmpty, "documents carry the tag; untag them first");
  }
  RETURN_IF_ERROR(client().TagAdmin(Client::TagAdminOp::kDelete, name).status());
  std::lock_guard<std::mutex> lock(mu_);
  listings_.clear();
  return Status();
}

Result<Attr> TagViews::Symlink(InodeId parent, std::string_view name, std::string_view target,
                               const std::string& mountpoint, uint32_t uid) {
  std::shared_ptr<const Node> dir = Get(parent);
  if (!dir) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (dir->kind != Kind::kTagDir) {
    return Status(ErrorCode::kNotPermitted, "links that tag go into a tag's folder");
  }
  // The document's path from the mount's root: an absolute target under
  // the mount point, or a target relative to this folder.
  std::vector<std::string> parts;
  std::string_view rest = target;
  if (target.starts_with("/")) {
    if (mountpoint.empty() || !target.starts_with(mountpoint + "/")) {
      return InvalidArgument("the link does not point into this mount (" + mountpoint + ")");
    }
    rest = target.substr(mountpoint.size() + 1);
  } else {
    parts.assign(static_cast<size_t>(dir->depth), "");  // the folder's own place
  }
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view part = rest.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return InvalidArgument("the link points above the mount's root");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    start = end + 1;
  }
  std::string path;
  for (const std::string& p : parts) {
    if (p.empty()) return InvalidArgument("the link points into the tag views");
    path += "/" + p;
  }
  if (path.empty() || IsRootName(parts.front())) {
    return InvalidArgument("the link points at no document");
  }
  ASSIGN_OR_RETURN(Attr doc, client().ResolvePath(path));
  RETURN_IF_ERROR(client().SetTags(doc.inode, dir->terms, {}).status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    listings_.clear();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Listing> l, ListingOf(parent, uid, true));
  for (const DirEntry& e : l->entries) {
    if (l->docs.count(e.name) && l->docs.at(e.name) == doc.inode) return e.attr;
  }
  (void)name;
  return Status(ErrorCode::kIoError, "the tagged document is not in the view");
}

Status TagViews::Unlink(InodeId parent, std::string_view name, uint32_t uid) {
  std::shared_ptr<const Node> dir = Get(parent);
  if (!dir) return Status(ErrorCode::kNotFound, "the view was forgotten");
  if (dir->kind != Kind::kTagDir) {
    return Status(ErrorCode::kNotPermitted, "only a tag's folder untags what is removed");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Listing> l, ListingOf(parent, uid, false));
  auto doc = l->docs.find(std::string(name));
  if (doc == l->docs.end()) return Status(ErrorCode::kNotFound, "no such document link");
  RETURN_IF_ERROR(client().SetTags(doc->second, {}, {dir->terms.back()}).status());
  std::lock_guard<std::mutex> lock(mu_);
  listings_.clear();
  return Status();
}

bool TagViews::IsTagsRoot(InodeId id) {
  std::shared_ptr<const Node> node = Get(id);
  return node && node->kind == Kind::kTagsRoot;
}

Status TagViews::RenameTag(std::string_view name, std::string_view newname) {
  RETURN_IF_ERROR(query::ValidateTagName(name));
  RETURN_IF_ERROR(query::ValidateTagName(newname));
  RETURN_IF_ERROR(client().TagAdmin(Client::TagAdminOp::kRename, name, newname).status());
  std::lock_guard<std::mutex> lock(mu_);
  listings_.clear();
  return Status();
}

Result<std::string> TagViews::GetTagXattr(InodeId id, std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<Tag> tags, client().GetTags(id));
  // One per line, no newline after the last (a single tag reads as text).
  std::vector<std::string> lines;
  bool found = false;
  if (name == kTagsXattr) {
    for (const Tag& t : tags) lines.push_back(TagText(t));
    found = !tags.empty();
  } else if (name.starts_with(kTagXattrPrefix)) {
    const std::string_view tag = name.substr(kTagXattrPrefix.size());
    for (const Tag& t : tags) {
      if (t.name != tag) continue;
      if (t.value) lines.push_back(*t.value);
      found = true;
    }
  }
  if (!found) return Status(ErrorCode::kNoData, "no such attribute");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

Status TagViews::SetTagXattr(InodeId id, std::string_view name, std::string_view value, int flags) {
  ASSIGN_OR_RETURN(std::vector<Tag> old, client().GetTags(id));
  std::vector<Tag> want;
  std::vector<Tag> remove;
  bool exists = false;
  if (name == kTagsXattr) {
    for (const std::string& line : Lines(value)) {
      if (line.empty()) continue;
      ASSIGN_OR_RETURN(Tag t, ParseTag(line));
      want.push_back(std::move(t));
    }
    exists = !old.empty();
    for (const Tag& t : old) {
      if (std::find(want.begin(), want.end(), t) == want.end()) remove.push_back(t);
    }
  } else if (name.starts_with(kTagXattrPrefix)) {
    const std::string tag(name.substr(kTagXattrPrefix.size()));
    RETURN_IF_ERROR(query::ValidateTagName(tag));
    for (const Tag& t : old) exists = exists || t.name == tag;
    const std::vector<std::string> values = Lines(value);
    if (values.empty()) want.push_back(Tag{tag, std::nullopt});
    for (const std::string& v : values) {
      RETURN_IF_ERROR(query::ValidateTagValue(v));
      want.push_back(Tag{tag, v});
    }
    for (const Tag& t : old) {
      if (t.name == tag && std::find(want.begin(), want.end(), t) == want.end()) {
        remove.push_back(t);
      }
    }
  } else {
    return Status(ErrorCode::kNotSupported, "user.ddbfs.* holds only tags and tag.NAME");
  }
  if ((flags & XATTR_CREATE) && exists) return Status(ErrorCode::kExists, "the tags are set");
  if ((flags & XATTR_REPLACE) && !exists) return Status(ErrorCode::kNoData, "no such attribute");
  std::vector<Tag> add;
  for (const Tag& t : want) {
    if (std::find(old.begin(), old.end(), t) == old.end()) add.push_back(t);
  }
  if (add.empty() && remove.empty()) return Status();
  return client().SetTags(id, add, remove).status();
}

Status TagViews::RemoveTagXattr(InodeId id, std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<Tag> old, client().GetTags(id));
  std::vector<Tag> remove;
  for (const Tag& t : old) {
    if (name == kTagsXattr ||
        (name.starts_with(kTagXattrPrefix) && t.name == name.substr(kTagXattrPrefix.size()))) {
      remove.push_back(t);
    }
  }
  if (remove.empty()) return Status(ErrorCode::kNoData, "no such attribute");
  return client().SetTags(id, {}, remove).status();
}

Result<bool> TagViews::HasTags(InodeId id) {
  ASSIGN_OR_RETURN(std::vector<Tag> tags, client().GetTags(id));
  return !tags.empty();
}

}  // namespace ddbfs::fuse
