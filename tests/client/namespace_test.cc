// Namespace operations of libddbfs against a real metaserver, and the
// errors a caller sees.

#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "test_files.h"

namespace ddbfs::testing {
namespace {

class NamespaceTest : public SharedClusterTest<NamespaceTest> {
 protected:
};

TEST(ConnectTest, UnreachableMetaserverSaysWhereAndWhatToDo) {
  ClientOptions o;
  o.meta_address = "127.0.0.1:1";
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(
      c.status().message().find("cannot reach metaserver at 127.0.0.1:1 (connection refused)"),
      std::string::npos)
      << c.status();
  EXPECT_NE(c.status().message().find("is it running? see ./scripts/cluster status"),
            std::string::npos);
}

TEST(ConnectTest, MalformedAddressIsInvalidArgument) {
  ClientOptions o;
  o.meta_address = "localhost";
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(NamespaceTest, CreateLookupResolveAndAttributes) {
  auto d = client_->Mkdir(kRootInode, "docs", 0750);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->type, FileType::kDirectory);
  EXPECT_EQ(d->mode, 0750u);
  EXPECT_EQ(d->uid, ::getuid());
  auto f = client_->Create(d->inode, "a.txt", 0640);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->type, FileType::kRegular);
  EXPECT_EQ(f->size, 0u);
  EXPECT_EQ(f->goal, 2);

  auto looked = client_->Lookup(d->inode, "a.txt");
  ASSERT_TRUE(looked.ok());
  EXPECT_EQ(looked->inode, f->inode);
  auto resolved = client_->ResolvePath("/docs/a.txt");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->inode, f->inode);

  auto again = client_->Create(d->inode, "a.txt", 0640);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kExists);
  auto missing = client_->ResolvePath("/docs/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);

  AttrChanges ch;
  ch.mode = 0600;
  ch.mtime_ns = 1000000000;
  auto changed = client_->SetAttr(f->inode, ch);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->mode, 0600u);
  EXPECT_EQ(changed->mtime_ns, 1000000000);
}

TEST_F(NamespaceTest, BadNamesAreRefusedBeforeAnyChange) {
  const std::string long_name(256, 'n');
  auto r = client_->Mkdir(kRootInode, long_name, 0755);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNameTooLong);
  auto p = client_->ResolvePath("/" + long_name);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kNameTooLong);
  for (const char* bad : {"", ".", "..", "a/b"}) {
    auto c = client_->Create(kRootInode, bad, 0644);
    ASSERT_FALSE(c.ok()) << "'" << bad << "'";
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument) << "'" << bad << "'";
  }
  auto ok = client_->Mkdir(kRootInode, std::string(255, 'n'), 0755);
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(NamespaceTest, ReadDirPagesInNameOrder) {
  auto d = client_->Mkdir(kRootInode, "many", 0755);
  ASSERT_TRUE(d.ok());
  const int kCount = 1203;
  // Concurrent creates (the metaserver group-commits them).
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kCount; i += 8) {
        char name[16];
        std::snprintf(name, sizeof name, "f%05d", i);
        if (!client_->Create(d->inode, name, 0644).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  auto page = client_->ReadDir(d->inode, "", 500);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->entries.size(), 500u);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->entries.front().name, "f00000");
  auto all = client_->ListDir(d->inode);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%05d", i);
    ASSERT_EQ((*all)[i].name, name);
  }
}

TEST_F(NamespaceTest, RenameUnlinkRmdirSymlinkAndLink) {
  auto d = client_->Mkdir(kRootInode, "ops", 0755);
  ASSERT_TRUE(d.ok());
  auto sub = client_->Mkdir(d->inode, "sub", 0755);
  ASSERT_TRUE(sub.ok());
  auto f = client_->Create(d->inode, "f", 0644);
  ASSERT_TRUE(f.ok());
  auto g = client_->Create(d->inode, "g", 0644);
  ASSERT_TRUE(g.ok());

  Status s = client_->Rename(d->inode, "f", d->inode, "g", Client::kRenameNoReplace);
  EXPECT_EQ(s.code(), ErrorCode::kExists) << s;
  ASSERT_TRUE(client_->Rename(d->inode, "f", sub->inode, "f2").ok());
  auto moved = client_->ResolvePath("/ops/sub/f2");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->inode, f->inode);

  auto rm_full = client_->Rmdir(d->inode, "sub");
  EXPECT_EQ(rm_full.code(), ErrorCode::kNotEmpty) << rm_full;

  auto link = client_->Symlink(d->inode, "ln", "/ops/g");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(link->type, FileType::kSymlink);
  auto target = client_->Readlink(link->inode);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "/ops/g");

  auto hard = client_->Link(g->inode, sub->inode, "g-again");
  ASSERT_TRUE(hard.ok()) << hard.status();
  EXPECT_EQ(hard->nlink, 2u);
  ASSERT_TRUE(client_->Unlink(d->inode, "g").ok());
  auto left = client_->GetAttr(g->inode);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->nlink, 1u);

  ASSERT_TRUE(client_->Unlink(sub->inode, "f2").ok());
  ASSERT_TRUE(client_->Unlink(sub->inode, "g-again").ok());
  ASSERT_TRUE(client_->Rmdir(d->inode, "sub").ok());
  auto gone = client_->Lookup(d->inode, "sub");
  EXPECT_EQ(gone.status().code(), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, ClusterStatusListsEveryServer) {
  auto st = client_->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->servers.size(), 3u);
  for (const auto& s : st->servers) {
    EXPECT_TRUE(s.alive) << s.address;
    EXPECT_GT(s.capacity_bytes, 0u);
    EXPECT_FALSE(s.label.empty());
  }
}

}  // namespace
}  // namespace ddbfs::testing
