// The metaserver's namespace cache (metaserver/store/meta_cache.h;
// docs/metadata.md, "The namespace cache"): its rules on their own, and a
// randomized run of every kind of namespace change after which every lookup
// and getattr, and the way up of every inode to the root (answered from the
// cache where it can), must equal what PostgreSQL holds.

#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/store/meta_cache.h"
#include "metaserver/store/query_store.h"
#include "metaserver/store/row_util.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::testing {
namespace {

using store::MetaCache;

Attr AttrOf(InodeId inode, uint64_t size) {
  Attr a;
  a.inode = inode;
  a.size = size;
  return a;
}

TEST(MetaCacheRules, AFillThatRacedWithACommitIsDropped) {
  MetaCache cache(100, 100);
  const uint64_t before = cache.epoch();
  // A commit lands between the read's start and its fill.
  MetaCache::Changes c;
  c.inodes[7] = std::nullopt;
  cache.Apply(c, /*committed=*/true);
  cache.FillInode(before, AttrOf(7, 1));
  cache.FillEntry(before, 1, "a", 7);
  EXPECT_FALSE(cache.Inode(7).has_value());
  EXPECT_FALSE(cache.Entry(1, "a").has_value());
  // A fill with the current epoch is kept.
  cache.FillInode(cache.epoch(), AttrOf(7, 2));
  cache.FillEntry(cache.epoch(), 1, "a", 0);
  ASSERT_TRUE(cache.Inode(7).has_value());
  EXPECT_EQ(cache.Inode(7)->size, 2u);
  EXPECT_EQ(cache.Entry(1, "a"), std::optional<InodeId>(0));
}

TEST(MetaCacheRules, ACommitPutsKnownRowsAndDropsUnknownOnesARollbackDropsAll) {
  MetaCache cache(100, 100);
  for (InodeId i : {1, 2, 3}) cache.FillInode(cache.epoch(), AttrOf(i, 10));
  cache.FillEntry(cache.epoch(), 1, "x", 2);
  MetaCache::Changes c;
  c.inodes[1] = AttrOf(1, 11);
  c.inodes[2] = std::nullopt;
  c.entries[{1, "x"}] = InodeId{0};
  c.entries[{1, "y"}] = std::nullopt;
  cache.Apply(c, /*committed=*/true);
  EXPECT_EQ(cache.Inode(1)->size, 11u);
  EXPECT_FALSE(cache.Inode(2).has_value());
  EXPECT_EQ(cache.Inode(3)->size, 10u);
  EXPECT_EQ(cache.Entry(1, "x"), std::optional<InodeId>(0));
  EXPECT_FALSE(cache.Entry(1, "y").has_value());

  MetaCache::Changes r;
  r.inodes[3] = AttrOf(3, 99);
  r.entries[{1, "x"}] = InodeId{3};
  cache.Apply(r, /*committed=*/false);
  EXPECT_FALSE(cache.Inode(3).has_value());
  EXPECT_FALSE(cache.Entry(1, "x").has_value());
}

TEST(MetaCacheRules, ANewDirectoryKnowsItsAbsentNamesUntilOneOfItsEntriesIsDropped) {
  MetaCache cache(100, 100);
  MetaCache::Changes mk;
  mk.new_dirs.push_back(5);
  mk.entries[{5, "a"}] = InodeId{6};
  cache.Apply(mk, /*committed=*/true);
  EXPECT_EQ(cache.Entry(5, "a"), std::optional<InodeId>(6));
  EXPECT_EQ(cache.Entry(5, "zzz"), std::optional<InodeId>(0));  // complete: absent
  EXPECT_FALSE(cache.Entry(4, "zzz").has_value());              // not complete: unknown
  // A change of unknown result in it, or a rolled-back one, ends that.
  MetaCache::Changes unknown;
  unknown.entries[{5, "b"}] = std::nullopt;
  cache.Apply(unknown, /*committed=*/true);
  EXPECT_FALSE(cache.Entry(5, "zzz").has_value());
  // A directory of a transaction that did not commit is not complete.
  MetaCache::Changes rolled;
  rolled.new_dirs.push_back(9);
  cache.Apply(rolled, /*committed=*/false);
  EXPECT_FALSE(cache.Entry(9, "x").has_value());
  // Nor is one that lost an entry to the bound.
  MetaCache small(100, 2);
  MetaCache::Changes two;
  two.new_dirs.push_back(7);
  two.entries[{7, "a"}] = InodeId{8};
  two.entries[{7, "b"}] = InodeId{9};
  small.Apply(two, /*committed=*/true);
  EXPECT_EQ(small.Entry(7, "c"), std::optional<InodeId>(0));
  small.FillEntry(small.epoch(), 1, "other", 3);  // evicts one of 7's
  EXPECT_FALSE(small.Entry(7, "c").has_value());
}

TEST(MetaCacheRules, ANameIsAnsweredOnlyWhileItsEntryNamesTheInodeAndItIsTheOnlyName) {
  MetaCache cache(100, 100);
  Attr dir = AttrOf(5, 0);
  dir.type = FileType::kDirectory;
  dir.nlink = 3;
  Attr file = AttrOf(6, 0);
  file.type = FileType::kRegular;
  file.nlink = 1;
  // Committed entries give the names.
  MetaCache::Changes c;
  c.inodes[5] = dir;
  c.inodes[6] = file;
  c.entries[{1, "d"}] = 5;
  c.entries[{5, "f"}] = 6;
  cache.Apply(c, /*committed=*/true);
  EXPECT_EQ(cache.OnlyName(5), (std::optional<std::pair<InodeId, std::string>>({1, "d"})));
  EXPECT_EQ(cache.OnlyName(6), (std::optional<std::pair<InodeId, std::string>>({5, "f"})));
  // A rename whose new name is not known: the old name is no longer answered.
  MetaCache::Changes r;
  r.entries[{1, "d"}] = 0;
  r.entries[{1, "e"}] = std::nullopt;
  cache.Apply(r, /*committed=*/true);
  EXPECT_FALSE(cache.OnlyName(5).has_value());
  // A second link: a file's name is no longer its only one.
  MetaCache::Changes l;
  file.nlink = 2;
  l.inodes[6] = file;
  l.entries[{1, "g"}] = 6;
  cache.Apply(l, /*committed=*/true);
  EXPECT_FALSE(cache.OnlyName(6).has_value());
  // A hint from a read is checked the same way.
  cache.HintName(5, 1, "d");
  EXPECT_FALSE(cache.OnlyName(5).has_value());
  cache.FillEntry(cache.epoch(), 1, "e", 5);
  cache.HintName(5, 1, "e");
  EXPECT_EQ(cache.OnlyName(5), (std::optional<std::pair<InodeId, std::string>>({1, "e"})));
}

TEST(MetaCacheRules, AChunkMapIsDroppedByAnyChunkChangeAndAnsweredWithItsInode) {
  MetaCache cache(100, 100);
  store::ChunkRecord c;
  c.id = 5;
  c.inode = 7;
  c.version = 3;
  c.replicas = {{1, 3}, {2, 3}};
  // Without the inode's row nothing is answered.
  cache.FillChunkMap(cache.epoch(), 7, 0, 16, {c});
  EXPECT_FALSE(cache.ChunkMap(7, 0, 16).has_value());
  cache.FillInode(cache.epoch(), AttrOf(7, 10));
  ASSERT_TRUE(cache.ChunkMap(7, 0, 16).has_value());
  EXPECT_EQ(cache.ChunkMap(7, 0, 16)->chunks.at(0).version, 3);
  EXPECT_EQ(cache.ChunkMap(7, 0, 16)->attr.size, 10u);
  EXPECT_FALSE(cache.ChunkMap(7, 1, 16).has_value());  // another range
  // A change of the inode alone keeps the map and answers the new row.
  MetaCache::Changes attr_only;
  attr_only.inodes[7] = AttrOf(7, 20);
  cache.Apply(attr_only, /*committed=*/true);
  ASSERT_TRUE(cache.ChunkMap(7, 0, 16).has_value());
  EXPECT_EQ(cache.ChunkMap(7, 0, 16)->attr.size, 20u);
  // A fill that raced with a commit is dropped.
  const uint64_t before = cache.epoch();
  cache.Apply(attr_only, /*committed=*/true);
  cache.FillChunkMap(before, 8, 0, 16, {c});
  cache.FillInode(cache.epoch(), AttrOf(8, 1));
  EXPECT_FALSE(cache.ChunkMap(8, 0, 16).has_value());
  // Any change of chunks or replicas, committed or not, drops every map.
  MetaCache::Changes chunks;
  chunks.chunks = true;
  cache.Apply(chunks, /*committed=*/false);
  EXPECT_FALSE(cache.ChunkMap(7, 0, 16).has_value());
  cache.FillChunkMap(cache.epoch(), 7, 0, 16, {c});
  ASSERT_TRUE(cache.ChunkMap(7, 0, 16).has_value());
  cache.Apply(chunks, /*committed=*/true);
  EXPECT_FALSE(cache.ChunkMap(7, 0, 16).has_value());
  // Large maps are not kept.
  cache.FillChunkMap(cache.epoch(), 7, 0, 1000,
                     std::vector<store::ChunkRecord>(MetaCache::kMaxChunksPerMap + 1, c));
  EXPECT_FALSE(cache.ChunkMap(7, 0, 1000).has_value());
}

TEST(MetaCacheRules, AWritingStatementOnChunksOrReplicasMarksItsTransaction) {
  EXPECT_TRUE(store::ChangesChunkMaps(
      store::Statement{"a", "UPDATE ddbfs.chunks SET version = $2 WHERE id = $1", true}));
  EXPECT_TRUE(store::ChangesChunkMaps(
      store::Statement{"b", "DELETE FROM ddbfs.replicas WHERE chunk_id = $1", true}));
  EXPECT_FALSE(store::ChangesChunkMaps(
      store::Statement{"c", "UPDATE ddbfs.inodes SET size = $2 WHERE id = $1", true}));
}

TEST(MetaCacheRules, StaysWithinItsBound) {
  MetaCache cache(10, 5);
  for (InodeId i = 1; i <= 100; ++i) {
    cache.FillInode(cache.epoch(), AttrOf(i, 0));
    cache.FillEntry(cache.epoch(), 1, "n" + std::to_string(i), i);
  }
  int inodes = 0, entries = 0;
  for (InodeId i = 1; i <= 100; ++i) {
    inodes += cache.Inode(i).has_value();
    entries += cache.Entry(1, "n" + std::to_string(i)).has_value();
  }
  EXPECT_EQ(inodes, 10);
  EXPECT_EQ(entries, 5);
}

// Random namespace changes through the ops layer (the writer and its
// cache, with --meta-cache-verify on: a stale hit of the writer stops the
// process), each followed by a comparison of every lookup and getattr the
// read path answers with what the database holds.
class MetaCacheTest : public MetaTest {
 protected:
  // inode -> its chunks and their replicas, as text, straight from SQL.
  std::map<InodeId, std::string> ChunkTruth() {
    pqxx::connection conn(db_url());
    pqxx::nontransaction txn(conn);
    std::map<InodeId, std::string> out;
    int64_t last_chunk = 0;
    for (const auto& row :
         txn.exec("SELECT c.inode, c.idx, c.id, c.version, c.length, r.server_id, r.version"
                  " FROM ddbfs.chunks c LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
                  " ORDER BY c.inode, c.idx, r.server_id")) {
      std::string& text = out[row[0].as<int64_t>()];
      if (row[2].as<int64_t>() != last_chunk) {
        last_chunk = row[2].as<int64_t>();
        text += "|" + row[1].as<std::string>() + ":" + row[2].as<std::string>() + ":" +
                row[3].as<std::string>() + ":" + row[4].as<std::string>();
      }
      if (!row[5].is_null())
        text += " " + row[5].as<std::string>() + "@" + row[6].as<std::string>();
    }
    return out;
  }
  static std::string ChunkText(const ChunkMapView& map) {
    std::string text;
    for (const ChunkLocation& c : map.chunks) {
      text += "|" + std::to_string(c.index) + ":" + std::to_string(c.chunk_id) + ":" +
              std::to_string(c.version) + ":" + std::to_string(c.length);
      for (const ReplicaLocation& r : c.replicas) {
        text += " " + std::to_string(r.address.server_id) + "@" + std::to_string(r.version);
      }
    }
    return text;
  }

  // (parent, name) -> inode, and inode -> attributes, straight from SQL.
  void Truth(std::map<std::pair<InodeId, std::string>, InodeId>* entries,
             std::map<InodeId, Attr>* inodes) {
    pqxx::connection conn(db_url());
    pqxx::nontransaction txn(conn);
    for (const auto& row : txn.exec("SELECT parent, name, inode FROM ddbfs.dentries")) {
      (*entries)[{row[0].as<int64_t>(), row[1].as<std::string>()}] = row[2].as<int64_t>();
    }
    for (const auto& row : txn.exec("SELECT " DDBFS_ATTR_COLUMNS("") " FROM ddbfs.inodes")) {
      Attr a = store::ParseAttr(row, 0);
      (*inodes)[a.inode] = a;
    }
  }
};

TEST_F(MetaCacheTest, EveryLookupGetattrAndChunkMapMatchesTheDatabaseAfterEveryKindOfChange) {
  AddServer("uuid-a", "a");
  AddServer("uuid-b", "b");
  std::mt19937 rng(20261127);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  std::vector<InodeId> dirs = {kRootInode};
  std::set<InodeId> seen = {kRootInode};
  int checks = 0, changes_ok = 0, chunk_maps = 0;
  for (int step = 0; step < 400; ++step) {
    const InodeId dir = dirs[pick(dirs.size())];
    const std::string name = names[pick(names.size())];
    auto in_dir = Lookup(ctx(), caller_, dir, name);
    const InodeId target = in_dir.ok() ? in_dir->inode : 0;
    bool ok = false;
    switch (pick(13)) {
      case 0: {
        auto r = Mkdir(ctx(), caller_, dir, name, 0755);
        if (r.ok()) dirs.push_back(r->inode);
        ok = r.ok();
        break;
      }
      case 1:
        ok = Create(ctx(), caller_, dir, name, 0644, std::nullopt, std::nullopt).ok();
        break;
      case 2:
        ok = Unlink(ctx(), caller_, dir, name).ok();
        break;
      case 3:
        ok = Rmdir(ctx(), caller_, dir, name).ok();
        break;
      case 4: {
        const InodeId to = dirs[pick(dirs.size())];
        const int flags = static_cast<int>(pick(3));
        ok = Rename(ctx(), caller_, dir, name, to, names[pick(names.size())], flags).ok();
        break;
      }
      case 5:
        if (target != 0) {
          ok =
              Link(ctx(), caller_, target, dirs[pick(dirs.size())], names[pick(names.size())]).ok();
        }
        break;
      case 6:
        if (target != 0) {
          AttrChanges c;
          if (pick(2)) c.mode = 0700 + static_cast<uint32_t>(pick(0100));  // owner keeps rwx
          if (pick(2)) c.mtime_ns = 1000000000LL * static_cast<int64_t>(pick(1000));
          if (pick(3) == 0) c.size = pick(3) * 70000;
          ok = SetAttr(ctx(), caller_, target, c).ok();
        }
        break;
      case 7:
        if (target != 0) {
          ok = pick(2) ? SetXattr(ctx(), caller_, target, "user.k", "v", 0).ok()
                       : RemoveXattr(ctx(), caller_, target, "user.k").ok();
        }
        break;
      case 8:
        ok = Symlink(ctx(), caller_, dir, name, "/somewhere").ok();
        break;
      case 9:
        if (target != 0 && in_dir->type == FileType::kRegular) {
          const int64_t length = 1 + static_cast<int64_t>(pick(100000));
          auto plan = PrepareWrite(ctx(), caller_, target, 0);
          if (plan.ok()) {
            ChunkCommitArgs c{0, plan->chunk_id, plan->version, length, {}, plan->lease_id};
            for (const ServerAddr& a : plan->replicas) c.written.push_back(a.server_id);
            ok = CommitWrite(ctx(), caller_, target, {c}, length, std::nullopt).ok();
          }
        }
        break;
      case 10:
        if (target != 0) {
          ok = UpdateAtimes(ctx(), caller_, {AtimeRead{target, NowNs()}}, false).ok();
        }
        break;
      case 11:
        ok = Mknod(ctx(), caller_, dir, name, FileType::kFifo, 0644, 0).ok();
        break;
      case 12:
        // A reader reports a replica bad: the chunk map loses it.
        if (target != 0 && in_dir->type == FileType::kRegular) {
          auto map = GetChunks(ctx(), caller_, target, 0, 16, true);
          if (map.ok() && !map->chunks.empty() && map->chunks[0].replicas.size() > 1) {
            ok = ReportBadReplica(ctx(), caller_, map->chunks[0].chunk_id,
                                  map->chunks[0].replicas[0].address.server_id,
                                  ErrorCode::kChecksumMismatch)
                     .ok();
          }
        }
        break;
    }
    changes_ok += ok;

    std::map<std::pair<InodeId, std::string>, InodeId> entries;
    std::map<InodeId, Attr> inodes;
    Truth(&entries, &inodes);
    for (const auto& [id, a] : inodes) seen.insert(id);
    // Every name of every directory that ever existed, and every inode.
    for (InodeId d : dirs) {
      for (const std::string& n : names) {
        auto got = Lookup(ctx(), caller_, d, n);
        auto want = entries.find({d, n});
        if (want == entries.end()) {
          EXPECT_FALSE(got.ok()) << "step " << step << ": " << d << "/" << n << " is gone";
        } else {
          ASSERT_TRUE(got.ok()) << "step " << step << ": " << d << "/" << n << ": " << got.status();
          EXPECT_EQ(got->inode, want->second) << "step " << step << ": " << d << "/" << n;
          EXPECT_TRUE(store::SameAttr(*got, inodes.at(want->second)))
              << "step " << step << ": attributes of " << d << "/" << n;
        }
        ++checks;
      }
    }
    // The way up of every inode (queries and tag listings print it), from
    // the cache where it can: the first name at each level, as SQL says.
    std::vector<InodeId> all(seen.begin(), seen.end());
    std::map<InodeId, store::WayUp> ways;
    ASSERT_TRUE(ctx()
                    .reader
                    .Run([&](store::Tx& tx) -> Status {
                      ASSIGN_OR_RETURN(ways, store::WaysUpOf(tx, all));
                      return Status();
                    })
                    .ok());
    std::map<InodeId, std::pair<InodeId, std::string>> first;
    for (const auto& [key, inode] : entries) first.emplace(inode, key);  // lowest key first
    for (InodeId id : all) {
      std::vector<std::string> want;
      InodeId at = id;
      bool named = id == kRootInode;
      for (int depth = 0; depth < 100 && at != kRootInode; ++depth) {
        auto f = first.find(at);
        if (f == first.end()) break;
        want.push_back(f->second.second);
        at = f->second.first;
        named = at == kRootInode;
      }
      if (!inodes.count(id)) continue;  // gone: nothing to say
      const store::WayUp& got = ways[id];
      std::vector<std::string> got_names;
      for (const auto& s : got.steps) got_names.push_back(s.name);
      EXPECT_EQ(got.named, named) << "step " << step << ": inode " << id;
      if (named) {
        EXPECT_EQ(got_names, want) << "step " << step << ": way up of inode " << id;
      }
      ++checks;
    }
    for (InodeId id : seen) {
      auto got = GetAttr(ctx(), caller_, id);
      auto want = inodes.find(id);
      if (want == inodes.end()) {
        EXPECT_FALSE(got.ok()) << "step " << step << ": inode " << id << " is gone";
      } else {
        ASSERT_TRUE(got.ok()) << "step " << step << ": inode " << id << ": " << got.status();
        EXPECT_TRUE(store::SameAttr(*got, want->second))
            << "step " << step << ": attributes of inode " << id << " (size " << got->size << " vs "
            << want->second.size << ", nlink " << got->nlink << " vs " << want->second.nlink
            << ", mtime " << got->mtime_ns << " vs " << want->second.mtime_ns << ")";
      }
      ++checks;
    }
    // The chunk map of every file (what every open reads), twice: the
    // first may fill the cache, the second is answered from it.
    const std::map<InodeId, std::string> chunk_truth = ChunkTruth();
    for (const auto& [id, a] : inodes) {
      if (a.type != FileType::kRegular) continue;
      for (int round = 0; round < 2; ++round) {
        auto got = GetChunks(ctx(), caller_, id, 0, 16, true);
        ASSERT_TRUE(got.ok()) << "step " << step << ": chunks of inode " << id << ": "
                              << got.status();
        auto want = chunk_truth.find(id);
        EXPECT_EQ(ChunkText(*got), want == chunk_truth.end() ? "" : want->second)
            << "step " << step << ": chunks of inode " << id;
        EXPECT_TRUE(store::SameAttr(got->attr, a)) << "step " << step << ": inode " << id;
        chunk_maps += !got->chunks.empty();
        ++checks;
      }
    }
    if (HasFailure()) return;
  }
  // The run changed things and the cache answered most reads.
  EXPECT_GT(changes_ok, 80);
  EXPECT_GT(checks, 10000);
  EXPECT_GT(chunk_maps, 200);
  ASSERT_NE(core_->cache(), nullptr);
  EXPECT_GT(core_->cache()->hits(), core_->cache()->misses());
}

}  // namespace
}  // namespace ddbfs::meta::testing
