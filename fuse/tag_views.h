#pragma once

// The tag views of the mount (docs/tags.md, "Tag views in the mount"):
// `.tags/` and `.query/` at the root, reachable by name and never listed,
// and the `user.ddbfs.tags` / `user.ddbfs.tag.NAME` extended attributes of
// every node. Views are made of the metaserver's Query and ListTags answers
// (the same calls as the CLI's); changes through them are SetTags and
// TagAdmin calls.
//
// Nodes of the views have inode numbers from kFirstVirtual up, given out as
// paths are looked up (the same view path keeps its number while the mount
// runs); they are directories (a tag conjunction, a query) and symlinks to
// documents, relative so that they resolve wherever the cluster is mounted.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::fuse {

class TagViews {
 public:
  static constexpr InodeId kFirstVirtual = InodeId{1} << 62;
  static bool IsVirtual(InodeId id) { return id >= kFirstVirtual; }

  // `client` is read at every call (the mount replaces it after fork).
  // `ttl`: how long a directory's listing is reused by lookups.
  TagViews(Client* const* client, double ttl);

  // The names reachable in the root that are not listed.
  static bool IsRootName(std::string_view name) { return name == ".tags" || name == ".query"; }

  // Each call runs as the calling user (the caller's Client::ActingAs is
  // in effect): listings are kept per uid.
  Result<Attr> LookupRoot(std::string_view name);
  Result<Attr> Lookup(InodeId parent, std::string_view name, uint32_t uid);
  Result<Attr> GetAttr(InodeId id);
  Result<std::string> Readlink(InodeId id);
  Result<std::vector<DirEntry>> List(InodeId dir, uint32_t uid);

  // mkdir .tags/NAME (any tag directory): creates the tag.
  Result<Attr> Mkdir(InodeId parent, std::string_view name);
  // rmdir .tags/NAME: deletes a tag no document carries (ENOTEMPTY else).
  Status Rmdir(InodeId parent, std::string_view name);
  // ln -s TARGET DIR/NAME in a tag directory: tags the document TARGET
  // points to (relative to DIR, or an absolute path under `mountpoint`)
  // with the directory's tags.
  Result<Attr> Symlink(InodeId parent, std::string_view name, std::string_view target,
                       const std::string& mountpoint, uint32_t uid);
  // rm DIR/NAME of a document link: takes the directory's last tag off it.
  Status Unlink(InodeId parent, std::string_view name, uint32_t uid);
  // mv .tags/OLD .tags/NEW renames a tag (any other rename in or out of
  // the views is EXDEV: mv then copies a link, which tags, and removes the
  // old one, which untags).
  bool IsTagsRoot(InodeId id);
  Status RenameTag(std::string_view name, std::string_view newname);

  // Extended attributes user.ddbfs.tags and user.ddbfs.tag.NAME of real
  // nodes.
  static bool IsTagXattr(std::string_view name) { return name.starts_with("user.ddbfs."); }
  Result<std::string> GetTagXattr(InodeId id, std::string_view name);
  // flags: 0, XATTR_CREATE or XATTR_REPLACE.
  Status SetTagXattr(InodeId id, std::string_view name, std::string_view value, int flags);
  Status RemoveTagXattr(InodeId id, std::string_view name);
  // "user.ddbfs.tags" when the node carries tags, for listxattr.
  Result<bool> HasTags(InodeId id);

 private:
  enum class Kind { kTagsRoot, kTagDir, kQueryRoot, kQueryDir, kLink };
  struct Node {
    Kind kind = Kind::kTagDir;
    std::string key;         // unique: what the node is
    std::vector<Tag> terms;  // kTagDir: the conjunction
    std::string expr;        // kTagDir, kQueryDir: the query it lists
    int depth = 1;           // below the mount's root
    std::string target;      // kLink
    Attr attr;               // kLink: the document's; dirs: made up
  };
  struct Listing {
    std::chrono::steady_clock::time_point at;
    std::vector<DirEntry> entries;
    std::map<std::string, InodeId> docs;  // entry name -> document inode, for unlink
  };

  Client& client() const { return **client_; }
  // The node of `key`, made by `make` the first time.
  std::shared_ptr<const Node> NodeFor(const std::string& key, Node proto);
  std::shared_ptr<const Node> Get(InodeId id);
  Attr DirAttr(InodeId id) const;
  Result<std::shared_ptr<const Node>> TagDirNode(const std::shared_ptr<const Node>& parent,
                                                 std::string_view name);
  Result<std::shared_ptr<const Node>> QueryDirNode(std::string_view name);
  Result<Listing> Fill(const Node& dir);
  Result<std::shared_ptr<const Listing>> ListingOf(InodeId dir, uint32_t uid, bool fresh);
  // The listing of `dir` for `uid` if one younger than the ttl is kept; null
  // otherwise (nothing is fetched).
  std::shared_ptr<const Listing> RecentListing(InodeId dir, uint32_t uid);

  Client* const* client_;
  const std::chrono::milliseconds ttl_;
  const uint32_t uid_;
  const uint32_t gid_;
  const int64_t started_ns_;

  std::mutex mu_;
  InodeId next_ = kFirstVirtual;                          // GUARDED_BY(mu_)
  std::map<InodeId, std::shared_ptr<const Node>> nodes_;  // GUARDED_BY(mu_)
  std::map<std::string, InodeId> by_key_;                 // GUARDED_BY(mu_)
  std::map<std::pair<InodeId, uint32_t>, std::shared_ptr<const Listing>>
      listings_;  // GUARDED_BY(mu_)
};

}  // namespace ddbfs::fuse
