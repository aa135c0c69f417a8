// The read-only SQL views of sql/012_views.sql (docs/sql.md) over a small
// namespace made through the ops layer, on a real PostgreSQL.

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/session_ops.h"
#include "pg_instance.h"

namespace ddbfs::meta::testing {
namespace {

Tag T(const std::string& name) { return Tag{name, std::nullopt}; }
Tag T(const std::string& name, const std::string& value) { return Tag{name, value}; }

// Rows of `sql` on `url`, each as its fields joined by '|', NULL as "NULL".
std::vector<std::string> RowsOn(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::vector<std::string> out;
  for (const auto& row : txn.exec(sql)) {
    std::string line;
    for (pqxx::row::size_type i = 0; i < row.size(); ++i) {
      if (i > 0) line += "|";
      line += row[i].is_null() ? "NULL" : row[i].c_str();
    }
    out.push_back(line);
  }
  return out;
}

class SqlViewsTest : public MetaTest {
 protected:
  std::vector<std::string> Rows(const std::string& sql) { return RowsOn(db_url(), sql); }

  InodeId File(InodeId parent, const std::string& name, std::optional<int> goal = std::nullopt) {
    auto r = Create(ctx(), caller_, parent, name, 0644, goal, std::nullopt);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? r->inode : 0;
  }
  void Tags(InodeId inode, const std::vector<Tag>& tags) {
    auto r = SetTags(ctx(), caller_, inode, tags, {});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void Resize(InodeId inode, uint64_t size, std::optional<int64_t> mtime_ns = std::nullopt) {
    AttrChanges c;
    c.size = size;
    c.mtime_ns = mtime_ns;
    auto r = SetAttr(ctx(), caller_, inode, c);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // `name` in `parent` unlinked while a client session keeps it open: an
  // orphan (no name, nlink 0).
  void MakeOrphan(InodeId parent, const std::string& name, InodeId inode) {
    auto s = OpenClientSession(ctx(), "uid:1000", "sql_views_test");
    ASSERT_TRUE(s.ok()) << s.status();
    auto kept =
        UnlinkKeepingOpen(ctx(), caller_, parent, name, OrphanHolder{s->id, "uid:1000", {inode}});
    ASSERT_TRUE(kept.ok()) << kept.status();
    ASSERT_EQ(*kept, inode);
  }
};

std::string S(InodeId id) { return std::to_string(id); }

TEST_F(SqlViewsTest, DocumentsDocumentTagsAndTagStats) {
  const InodeId docs = MustMkdir(kRootInode, "docs").inode;
  const InodeId year = MustMkdir(docs, "2021").inode;
  // a.txt in /docs/2021, with a second name /docs/z.txt: the first name is
  // the lowest (parent, name), so /docs (the lower parent) wins over the
  // lower name "a.txt".
  const InodeId a = File(year, "a.txt");
  ASSERT_TRUE(Link(ctx(), caller_, a, docs, "z.txt").ok());
  Resize(a, 1000, 1600000000123456789);
  Tags(a, {T("photo"), T("year", "2021"), T("year", "2022"), T("author", "")});
  const InodeId c = File(docs, "c.txt");
  Resize(c, 10);
  Tags(c, {T("photo"), T("year", "2021")});
  const InodeId plain = File(kRootInode, "plain");
  // Not documents: a tagged directory, a symlink, a deleted file, an orphan.
  Tags(docs, {T("folder")});
  ASSERT_TRUE(Symlink(ctx(), caller_, kRootInode, "s", "docs").ok());
  const InodeId gone = File(year, "gone.txt");
  Tags(gone, {T("photo"), T("temp")});
  ASSERT_TRUE(Unlink(ctx(), caller_, year, "gone.txt").ok());
  const InodeId open = File(kRootInode, "open.txt");
  Resize(open, 5);
  Tags(open, {T("photo"), T("open")});
  MakeOrphan(kRootInode, "open.txt", open);

  // sha256: the content hash (docs/content_hash.md); these files were only
  // resized, so each is one chunk of zeros: sha256(sha256(zeros)).
  auto zeros_hash = [&](int n) {
    return Rows("SELECT sha256(sha256(decode(repeat('00', " + std::to_string(n) + "), 'hex')))")
        .at(0);
  };
  EXPECT_EQ(Rows("SELECT inode, path, name, size, "
                 "(extract(epoch FROM mtime) * 1000000)::bigint, sha256, tags "
                 "FROM ddbfs.documents WHERE inode <> " +
                 S(plain) + " ORDER BY inode"),
            (std::vector<std::string>{
                S(a) + "|/docs/z.txt|z.txt|1000|1600000000123456|" + zeros_hash(1000) +
                    "|{author=,photo,year=2021,year=2022}",
                S(c) + "|/docs/c.txt|c.txt|10|" +
                    std::to_string(
                        QueryInt("SELECT mtime_ns / 1000 FROM ddbfs.inodes WHERE id = " + S(c))) +
                    "|" + zeros_hash(10) + "|{photo,year=2021}"}));
  EXPECT_EQ(Rows("SELECT path, tags, format_type(atttypid, atttypmod) FROM ddbfs.documents, "
                 "pg_attribute WHERE attrelid = 'ddbfs.documents'::regclass AND attname = "
                 "'sha256' AND inode = " +
                 S(plain)),
            (std::vector<std::string>{"/plain|{}|bytea"}))
      << "no tags: an empty array; sha256 is a bytea column";
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.documents"), 3);

  EXPECT_EQ(Rows("SELECT inode, path, tag, value FROM ddbfs.document_tags "
                 "ORDER BY inode, tag, value NULLS FIRST"),
            (std::vector<std::string>{
                S(a) + "|/docs/z.txt|author|",
                S(a) + "|/docs/z.txt|photo|NULL",
                S(a) + "|/docs/z.txt|year|2021",
                S(a) + "|/docs/z.txt|year|2022",
                S(c) + "|/docs/c.txt|photo|NULL",
                S(c) + "|/docs/c.txt|year|2021",
            }));

  // Each document once per name, however many values it has there; names
  // that only a directory, a deleted file or an orphan carries count 0.
  EXPECT_EQ(Rows("SELECT tag, documents, bytes FROM ddbfs.tag_stats ORDER BY tag"),
            (std::vector<std::string>{"author|1|1000", "folder|0|0", "open|0|0", "photo|2|1010",
                                      "temp|0|0", "year|2|1010"}));

  // Renaming a directory moves the paths of everything below.
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "docs", kRootInode, "papers", 0).ok());
  EXPECT_EQ(Rows("SELECT path FROM ddbfs.documents ORDER BY path"),
            (std::vector<std::string>{"/papers/c.txt", "/papers/z.txt", "/plain"}));
  // Its last-but-one name gone, a.txt is known by the one left.
  ASSERT_TRUE(Unlink(ctx(), caller_, docs, "z.txt").ok());
  EXPECT_EQ(Rows("SELECT DISTINCT path FROM ddbfs.document_tags WHERE inode = " + S(a)),
            (std::vector<std::string>{"/papers/2021/a.txt"}));
}

TEST_F(SqlViewsTest, ChunkHealthAndServerUsage) {
  const int32_t sa = AddServer("uuid-a", "a");
  const int32_t sb = AddServer("uuid-b", "b");
  const InodeId vol = MustMkdir(kRootInode, "vol").inode;
  const InodeId x = MustMkdir(vol, "x").inode;
  const InodeId data = File(x, "data.bin", 2);
  const int64_t chunk = static_cast<int64_t>(kChunkSize);
  const WritePlan c0 = MustWriteChunk(data, 0, chunk, chunk);
  const WritePlan c1 = MustWriteChunk(data, 1, 100, chunk + 100);
  ASSERT_EQ(c0.replicas.size(), 2u);
  ASSERT_EQ(c1.replicas.size(), 2u);
  // Chunk 2 placed and not yet committed: version 0, under a lease.
  auto c2 = PrepareWrite(ctx(), caller_, data, 2);
  ASSERT_TRUE(c2.ok()) << c2.status();
  // A chunk of an orphan has no path; a deleted file's chunks are gone and
  // their replicas queued for deletion on their servers.
  const InodeId orphan = File(kRootInode, "o.bin", 1);
  const WritePlan co = MustWriteChunk(orphan, 0, 10, 10);
  ASSERT_EQ(co.replicas.size(), 1u);
  MakeOrphan(kRootInode, "o.bin", orphan);
  const InodeId del = File(kRootInode, "del.bin", 2);
  MustWriteChunk(del, 0, 10, 10);
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "del.bin").ok());

  const std::string all =
      "SELECT chunk, inode, idx, path, goal, version, writing, replicas, "
      "current_replicas, live_replicas FROM ddbfs.chunk_health ORDER BY chunk";
  EXPECT_EQ(Rows(all), (std::vector<std::string>{
                           S(c0.chunk_id) + "|" + S(data) + "|0|/vol/x/data.bin|2|1|f|2|2|2",
                           S(c1.chunk_id) + "|" + S(data) + "|1|/vol/x/data.bin|2|1|f|2|2|2",
                           S(c2->chunk_id) + "|" + S(data) + "|2|/vol/x/data.bin|2|0|t|2|2|2",
                           S(co.chunk_id) + "|" + S(orphan) + "|0|NULL|1|1|f|1|1|1",
                       }));

  // Server a stops (its last heartbeat an hour ago), and chunk 1's replica
  // on server b is stale.
  {
    pqxx::connection conn(db_url());
    pqxx::nontransaction txn(conn);
    txn.exec("UPDATE ddbfs.servers SET last_heartbeat = now() - interval '1 hour' WHERE id = " +
             std::to_string(sa));
    txn.exec("UPDATE ddbfs.replicas SET version = 0 WHERE chunk_id = " + S(c1.chunk_id) +
             " AND server_id = " + std::to_string(sb));
  }
  const bool orphan_on_a = co.replicas[0].server_id == sa;
  EXPECT_EQ(Rows(all),
            (std::vector<std::string>{
                S(c0.chunk_id) + "|" + S(data) + "|0|/vol/x/data.bin|2|1|f|2|2|1",
                S(c1.chunk_id) + "|" + S(data) + "|1|/vol/x/data.bin|2|1|f|2|1|0",
                S(c2->chunk_id) + "|" + S(data) + "|2|/vol/x/data.bin|2|0|t|2|2|1",
                S(co.chunk_id) + "|" + S(orphan) + "|0|NULL|1|1|f|1|1|" + (orphan_on_a ? "0" : "1"),
            }));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunk_health WHERE live_replicas < goal"),
            orphan_on_a ? 4 : 3);

  // Replicas per server: data.bin's three chunks on both, the orphan's on
  // one; del.bin's two replicas queued for deletion, one on each.
  const int64_t replicas_a = 3 + (orphan_on_a ? 1 : 0);
  const int64_t replicas_b = 3 + (orphan_on_a ? 0 : 1);
  EXPECT_EQ(Rows("SELECT server, uuid, address ~ '^127\\.0\\.0\\.1:[0-9]+$', label, alive, "
                 "last_heartbeat IS NOT NULL, capacity_bytes, used_bytes, free_bytes, "
                 "used_percent, reported_chunks, replicas, queued_deletions "
                 "FROM ddbfs.server_usage ORDER BY server"),
            (std::vector<std::string>{
                std::to_string(sa) + "|uuid-a|t|a|f|t|1099511627776|0|1099511627776|0.0|0|" +
                    std::to_string(replicas_a) + "|1",
                std::to_string(sb) + "|uuid-b|t|b|t|t|1099511627776|0|1099511627776|0.0|0|" +
                    std::to_string(replicas_b) + "|1",
            }));
}

// The migration grants the views, and only them, to ddbfs_reader when the
// role exists (sql/roles.sql makes it; the tests' PostgreSQL has it only
// if a test made it): through the views it reads what the owner reads.
TEST(SqlViewsReaderTest, TheReaderRoleReadsTheViewsAndNoTable) {
  const std::string url = ddbfs::testing::PgInstance::Shared().NewDatabaseUrl();
  {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    txn.exec(
        "DO $$ BEGIN IF to_regrole('ddbfs_reader') IS NULL THEN "
        "CREATE ROLE ddbfs_reader NOLOGIN; END IF; END $$");
  }
  MetaOptions o;
  o.db_url = url;
  auto core = MetaCore::Open(o);
  ASSERT_TRUE(core.ok()) << core.status();
  auto f = Create((*core)->ctx(), Caller{}, kRootInode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(SetTags((*core)->ctx(), Caller{}, f->inode, {T("t")}, {}).ok());

  for (const char* view :
       {"documents", "document_tags", "tag_stats", "chunk_health", "server_usage"}) {
    EXPECT_EQ(RowsOn(url, std::string("SELECT has_table_privilege('ddbfs_reader', 'ddbfs.") + view +
                              "', 'SELECT'), has_table_privilege('ddbfs_reader', 'ddbfs." + view +
                              "', 'INSERT, UPDATE, DELETE, TRUNCATE')"),
              (std::vector<std::string>{"t|f"}))
        << view;
  }
  EXPECT_EQ(RowsOn(url,
                   "SELECT count(*) FROM pg_class WHERE relnamespace = 'ddbfs'::regnamespace "
                   "AND relkind <> 'i' AND has_table_privilege('ddbfs_reader', oid, 'SELECT')"),
            (std::vector<std::string>{"5"}))
      << "the five views, no table or sequence";
  // As the reader: the views answer, a table does not.
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  txn.exec("SET ROLE ddbfs_reader");
  EXPECT_EQ(txn.exec1("SELECT path FROM ddbfs.documents")[0].as<std::string>(), "/f");
  EXPECT_EQ(txn.exec1("SELECT tag || ':' || documents FROM ddbfs.tag_stats")[0].as<std::string>(),
            "t:1");
  EXPECT_THROW(txn.exec("SELECT 1 FROM ddbfs.inodes"), pqxx::insufficient_privilege);
}

}  // namespace
}  // namespace ddbfs::meta::testing
