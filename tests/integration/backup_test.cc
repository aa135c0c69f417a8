// Metadata backup and restore end to end (docs/backup.md): ddbfs backup,
// changes after it, the metaserver stopped, ddbfs restore, the metaserver
// started again; the deletion retention keeps what the backup references,
// and ddbfs fsck names exactly what was changed or lost since. Bad input is
// refused with one line and changes nothing.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 3000) +
         "\nstderr: " + r.err.substr(0, 2000);
}

CommandResult Ddbfs(TestCluster& c, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {c.bin("ddbfs"), "--meta", c.meta_address()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", std::chrono::seconds(120));
}

CommandResult Backup(TestCluster& c, const std::string& file) {
  return Ddbfs(c, {"backup", "--db", c.db_url(), file});
}

CommandResult Restore(TestCluster& c, const std::string& file, bool force) {
  std::vector<std::string> args{"restore", "--db", c.db_url(), file};
  if (force) args.push_back("--force");
  return Ddbfs(c, args);
}

// The "lost: PATH" and "changed: PATH" lines of ddbfs fsck.
std::set<std::string> DamagedFiles(const std::string& out) {
  std::set<std::string> files;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("lost: ", 0) == 0 || line.rfind("changed: ", 0) == 0) files.insert(line);
  }
  return files;
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// `data` at offset 0 and, with `second`, 100 KiB more in chunk 1.
Result<Attr> Put(Client& c, const std::string& name, const std::string& data,
                 const std::string& second = "") {
  ASSIGN_OR_RETURN(Attr a, c.Create(kRootInode, name, 0644));
  ASSIGN_OR_RETURN(auto w, c.OpenWriter(a.inode));
  RETURN_IF_ERROR(WriteAt(*w, 0, data));
  if (!second.empty()) RETURN_IF_ERROR(WriteAt(*w, kChunkSize, second));
  RETURN_IF_ERROR(w->Sync());
  RETURN_IF_ERROR(w->Close());
  return c.GetAttr(a.inode);
}

// The file's whole content as a reader sees it (holes as zeros).
std::string Content(const std::string& data, const std::string& second) {
  if (second.empty()) return data;
  std::string out(kChunkSize + second.size(), '\0');
  out.replace(0, data.size(), data);
  out.replace(kChunkSize, second.size(), second);
  return out;
}

Status Rewrite(Client& c, InodeId inode, const std::string& data) {
  ASSIGN_OR_RETURN(auto w, c.OpenWriter(inode));
  RETURN_IF_ERROR(WriteAt(*w, 0, data));
  RETURN_IF_ERROR(w->Sync());
  return w->Close();
}

int ChunkFilesOnDisk(TestCluster& c, int64_t chunk_id) {
  int n = 0;
  for (int i = 0; i < c.chunk_server_count(); ++i) {
    n += FindChunkFile(c.chunk_data_dir(i), chunk_id).empty() ? 0 : 1;
  }
  return n;
}

// Stops the metaserver, restores `file` over its database, starts it again.
void RestoreAndRestart(TestCluster& c, const std::string& file) {
  c.StopMetaserver(SIGTERM);
  CommandResult r = Restore(c, file, true);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(Lines(r.out), 1) << Show(r);
  EXPECT_NE(r.out.find("restored " + file), std::string::npos) << Show(r);
  c.StartMetaserver();
  ASSERT_TRUE(c.WaitForAliveServers(c.chunk_server_count(), 30000));
}

// Files deleted, truncated (at a chunk boundary), emptied and rewritten from
// scratch, or renamed after the backup read back byte-identical from the
// restored metadata (the retention held their chunks); files rewritten in
// place (a write, or a truncation inside a chunk) are named as changed, and
// nothing else is named.
TEST(BackupTest, ARestoredBackupServesWhatWasDeletedSinceAndFsckNamesTheRewrittenFiles) {
  ClusterOptions o;
  o.chunk_retention_s = 3600;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);

  struct File {
    std::string name;
    std::string data, second;
    InodeId inode = 0;
  };
  std::vector<File> files = {{"keep", Bytes(200 << 10, 1), ""},
                             {"deleted1", Bytes(300 << 10, 2), Bytes(100 << 10, 3)},
                             {"deleted2", Bytes(50 << 10, 4), ""},
                             {"rewritten1", Bytes(200 << 10, 5), ""},
                             {"rewritten2", Bytes(300 << 10, 6), Bytes(100 << 10, 7)},
                             {"truncated", Bytes(300 << 10, 8), Bytes(100 << 10, 9)},
                             {"emptied", Bytes(200 << 10, 10), ""},
                             {"shortened", Bytes(200 << 10, 13), ""},
                             {"renamed", Bytes(100 << 10, 11), ""}};
  for (File& f : files) {
    auto a = Put(*client, f.name, f.data, f.second);
    ASSERT_TRUE(a.ok()) << f.name << ": " << a.status();
    f.inode = a->inode;
  }

  const std::string dump = cluster->dir() + "/meta.dump";
  CommandResult r = Backup(*cluster, dump);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(Lines(r.out), 1) << Show(r);
  EXPECT_EQ(r.out.rfind(dump + ": ", 0), 0u) << Show(r);
  EXPECT_NE(r.out.find(", taken "), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("9 files"), std::string::npos) << Show(r);
  {
    std::ifstream in(dump);
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first, "DDBFS-BACKUP 1");
  }
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial"));

  // After the backup.
  auto inode = [&](const std::string& name) {
    for (const File& f : files) {
      if (f.name == name) return f.inode;
    }
    return InodeId{0};
  };
  auto deleted_chunks = client->Chunks(inode("deleted1"));
  ASSERT_TRUE(deleted_chunks.ok() && deleted_chunks->size() == 2u);
  ASSERT_TRUE(client->Unlink(kRootInode, "deleted1").ok());
  ASSERT_TRUE(client->Unlink(kRootInode, "deleted2").ok());
  ASSERT_TRUE(Rewrite(*client, inode("rewritten1"), Bytes(200 << 10, 105)).ok());
  ASSERT_TRUE(Rewrite(*client, inode("rewritten2"), Bytes(300 << 10, 106)).ok());
  AttrChanges shrink;
  shrink.size = kChunkSize;  // chunk 1 dropped, chunk 0 untouched
  ASSERT_TRUE(client->SetAttr(inode("truncated"), shrink).ok());
  // Shortened inside its chunk: the chunk is cut on its replicas under a
  // new version (a write), as a rewrite in place.
  AttrChanges cut;
  cut.size = 100 << 10;
  ASSERT_TRUE(client->SetAttr(inode("shortened"), cut).ok());
  AttrChanges empty;
  empty.size = 0;  // chunk 0 dropped, then written anew (as open(O_TRUNC) does)
  ASSERT_TRUE(client->SetAttr(inode("emptied"), empty).ok());
  ASSERT_TRUE(Rewrite(*client, inode("emptied"), Bytes(150 << 10, 110)).ok());
  ASSERT_TRUE(client->Rename(kRootInode, "renamed", kRootInode, "moved").ok());
  auto fresh = Put(*client, "new", Bytes(100 << 10, 12));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  // The chunks written after the backup: "new"'s and "emptied"'s new one.
  std::vector<int64_t> later;
  for (const std::string name : {"new", "emptied"}) {
    auto chunks = client->Chunks(inode(name) ? inode(name) : fresh->inode);
    ASSERT_TRUE(chunks.ok() && chunks->size() == 1u);
    later.push_back(chunks->at(0).chunk_id);
  }
  // 5 chunks left the metadata (deleted1: 2, deleted2, truncated's chunk 1,
  // emptied's chunk 0), 2 replicas each: held, not deleted.
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->held_replicas, 10);
  EXPECT_EQ(st->chunk_retention_s, 3600);
  EXPECT_EQ(st->pending_deletions, 0);
  // Every chunk server heartbeats at least once more (a deletion due would
  // be in a reply by then, and done): deleted1's replicas are still there.
  const auto changed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = client->ClusterStatus();
        const int64_t since = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - changed_at)
                                  .count();
        if (!s.ok()) return false;
        for (const ServerView& v : s->servers) {
          if (!v.alive || v.last_heartbeat_ms_ago + 1000 > since) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  for (const ChunkView& ch : *deleted_chunks) {
    EXPECT_EQ(ChunkFilesOnDisk(*cluster, ch.chunk_id), 2) << "chunk " << ch.chunk_id;
  }

  RestoreAndRestart(*cluster, dump);
  client = cluster->NewClient();
  ASSERT_TRUE(client);
  for (const File& f : files) {
    if (f.name.rfind("rewritten", 0) == 0 || f.name == "shortened") continue;
    auto a = client->Lookup(kRootInode, f.name);
    ASSERT_TRUE(a.ok()) << f.name << ": " << a.status();
    EXPECT_EQ(a->inode, f.inode) << f.name;
    auto back = ReadAll(*client, a->inode);
    ASSERT_TRUE(back.ok()) << f.name << ": " << back.status();
    EXPECT_TRUE(*back == Content(f.data, f.second))
        << f.name << ": " << FirstDifference(*back, Content(f.data, f.second));
  }
  EXPECT_EQ(client->Lookup(kRootInode, "moved").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(client->Lookup(kRootInode, "new").status().code(), ErrorCode::kNotFound);
  // The chunks written after the backup are unknown to the restored
  // metadata: their deletion is queued when their servers register, held
  // for the retention (2 chunks, 2 replicas each), and they stay on disk.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        return st.ok() && st->held_replicas == 4;
      },
      std::chrono::seconds(20)))
      << "the replicas written after the backup are not held";
  for (int64_t id : later) EXPECT_EQ(ChunkFilesOnDisk(*cluster, id), 2) << "chunk " << id;
  // A file written after the restore gets a chunk id none of them had.
  const std::string after = Bytes(100 << 10, 14);
  auto written = Put(*client, "after", after);
  ASSERT_TRUE(written.ok()) << written.status();
  auto after_chunks = client->Chunks(written->inode);
  ASSERT_TRUE(after_chunks.ok() && after_chunks->size() == 1u);
  EXPECT_GT(after_chunks->at(0).chunk_id, *std::max_element(later.begin(), later.end()));
  auto back = ReadAll(*client, written->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == after);

  r = Ddbfs(*cluster, {"fsck"});
  EXPECT_EQ(r.exit_code, 8) << Show(r);
  EXPECT_EQ(DamagedFiles(r.out),
            (std::set<std::string>{"changed: /rewritten1", "changed: /rewritten2",
                                   "changed: /shortened"}))
      << Show(r);
  EXPECT_NE(r.out.find("status: NOT clean"), std::string::npos) << Show(r);
}

// Once the retention passed, the chunks of files deleted after the backup
// are gone from the disks, and after the restore fsck names those files as
// lost (and only them). On the way: bad input to backup and restore is one
// clear line and changes nothing.
TEST(BackupTest, AfterTheRetentionDeletedFilesAreLostAndBadInputChangesNothing) {
  ClusterOptions o;
  o.chunk_retention_s = 3;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string kept = Bytes(200 << 10, 21);
  ASSERT_TRUE(Put(*client, "kept", kept).ok());
  auto gone = Put(*client, "gone", Bytes(200 << 10, 22));
  ASSERT_TRUE(gone.ok()) << gone.status();
  auto gone_chunks = client->Chunks(gone->inode);
  ASSERT_TRUE(gone_chunks.ok() && gone_chunks->size() == 1u);
  const int64_t gone_chunk = gone_chunks->at(0).chunk_id;

  // A place root cannot write to.
  CommandResult r = Backup(*cluster, "/sys/ddbfs-backup-test.dump");
  EXPECT_EQ(r.exit_code, 10) << Show(r);
  EXPECT_EQ(Lines(r.err), 1) << Show(r);
  EXPECT_EQ(r.err.rfind("ddbfs: backup: ", 0), 0u) << Show(r);
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << Show(r);
  EXPECT_FALSE(std::filesystem::exists("/sys/ddbfs-backup-test.dump.partial"));

  const std::string dump = cluster->dir() + "/meta.dump";
  r = Backup(*cluster, dump);
  ASSERT_EQ(r.exit_code, 0) << Show(r);

  ASSERT_TRUE(client->Unlink(kRootInode, "gone").ok());
  EXPECT_EQ(ChunkFilesOnDisk(*cluster, gone_chunk), 2) << "deleted before the retention";
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        return st.ok() && st->held_replicas == 0 && st->pending_deletions == 0 &&
               ChunkFilesOnDisk(*cluster, gone_chunk) == 0;
      },
      std::chrono::seconds(30)))
      << "the replicas of /gone were not deleted after the retention";

  // While the metaserver runs, a restore is refused.
  r = Restore(*cluster, dump, true);
  EXPECT_EQ(r.exit_code, 13) << Show(r);
  EXPECT_EQ(Lines(r.err), 1) << Show(r);
  EXPECT_NE(r.err.find("stop every metaserver"), std::string::npos) << Show(r);

  cluster->StopMetaserver(SIGTERM);
  // Not a backup.
  const std::string junk = cluster->dir() + "/junk.dump";
  {
    std::ofstream out(junk);
    out << "this is not a backup\n" << Bytes(10000, 23);
  }
  r = Restore(*cluster, junk, true);
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_EQ(Lines(r.err), 1) << Show(r);
  EXPECT_NE(r.err.find("not a DDBFS backup"), std::string::npos) << Show(r);
  // A backup cut short.
  const std::string cut = cluster->dir() + "/cut.dump";
  std::filesystem::copy_file(dump, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(dump) - 100);
  r = Restore(*cluster, cut, true);
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_EQ(Lines(r.err), 1) << Show(r);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << Show(r);
  // A database that holds metadata, without --force.
  r = Restore(*cluster, dump, false);
  EXPECT_EQ(r.exit_code, 3) << Show(r);
  EXPECT_EQ(Lines(r.err), 1) << Show(r);
  EXPECT_NE(r.err.find("already holds DDBFS metadata (1 files"), std::string::npos) << Show(r);
  // Nothing changed: /gone is still deleted.
  cluster->StartMetaserver();
  ASSERT_TRUE(cluster->WaitForAliveServers(cluster->chunk_server_count(), 30000));
  client = cluster->NewClient();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->Lookup(kRootInode, "gone").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(client->Lookup(kRootInode, "kept").ok());

  RestoreAndRestart(*cluster, dump);
  client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = client->Lookup(kRootInode, "kept");
  ASSERT_TRUE(a.ok()) << a.status();
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == kept);
  EXPECT_TRUE(client->Lookup(kRootInode, "gone").ok());
  r = Ddbfs(*cluster, {"fsck"});
  EXPECT_EQ(r.exit_code, 8) << Show(r);
  EXPECT_EQ(DamagedFiles(r.out), (std::set<std::string>{"lost: /gone"})) << Show(r);
}

}  // namespace
}  // namespace ddbfs::testing
