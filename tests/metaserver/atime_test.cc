// Reads recorded after the fact (metaserver/ops/atime.cc; docs/metadata.md):
// batches of (inode, time of the read) with relatime, clamping and skips.

#include <chrono>
#include <thread>
#include <vector>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"

namespace ddbfs::meta::testing {
namespace {

const Caller kRoot{0, 0, {}};
const Caller kAlice{1001, 1001, {}};
constexpr int64_t kSecond = 1000000000;

class AtimeTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  // A file with the given atime and mtime.
  InodeId File(const std::string& name, uint32_t mode, int64_t atime, int64_t mtime) {
    auto f = Create(ctx(), kRoot, kRootInode, name, mode, std::nullopt, std::nullopt);
    EXPECT_TRUE(f.ok()) << f.status();
    AttrChanges c;
    c.atime_ns = atime;
    c.mtime_ns = mtime;
    EXPECT_TRUE(SetAttr(ctx(), kRoot, f->inode, c).ok());
    return f->inode;
  }
  int64_t Atime(InodeId id) { return GetAttr(ctx(), kRoot, id)->atime_ns; }
};

TEST_F(AtimeTest, ABatchUpdatesWhatRelatimeAllowsAndSkipsTheRest) {
  const InodeId due = File("due", 0644, 1000 * kSecond, 2000 * kSecond);  // atime < mtime
  // atime after mtime and ctime (now), and before the read: only relatime
  // leaves it.
  const int64_t recent = NowNs() + 300000000;
  const InodeId fresh = File("fresh", 0644, recent, 2000 * kSecond);
  const InodeId secret = File("secret", 0600, 1000 * kSecond, 2000 * kSecond);
  auto dir = Mkdir(ctx(), kRoot, kRootInode, "d", 0755);
  ASSERT_TRUE(dir.ok());
  const InodeId gone = File("gone", 0644, 1000 * kSecond, 2000 * kSecond);
  ASSERT_TRUE(Unlink(ctx(), kRoot, kRootInode, "gone").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const int64_t read_at = NowNs();
  ASSERT_GT(read_at, recent);
  auto r = UpdateAtimes(ctx(), kAlice,
                        {{due, read_at - kSecond},
                         {due, read_at},  // the latest read of a file counts
                         {fresh, read_at},
                         {secret, read_at},
                         {dir->inode, read_at},
                         {gone, read_at}},
                        /*relatime=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(r->skipped, 3) << "the unreadable file, the directory, the gone file";
  EXPECT_EQ(Atime(due), read_at);
  EXPECT_EQ(Atime(fresh), recent) << "relatime";
  EXPECT_EQ(Atime(secret), 1000 * kSecond) << "alice may not read it";
  // strictatime (relatime false) updates it, but never back.
  r = UpdateAtimes(ctx(), kRoot, {{fresh, recent - kSecond}}, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated, 0);
  EXPECT_EQ(Atime(fresh), recent) << "atime never moves back";
  r = UpdateAtimes(ctx(), kRoot, {{fresh, read_at}}, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(Atime(fresh), read_at);
}

TEST_F(AtimeTest, ReadTimesAreClampedToTheMetaserversClock) {
  const InodeId f = File("f", 0644, 1000 * kSecond, 2000 * kSecond);
  const int64_t before = NowNs();
  auto r = UpdateAtimes(ctx(), kRoot, {{f, before + 3600 * kSecond}}, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated, 1);
  EXPECT_GE(Atime(f), before);
  EXPECT_LE(Atime(f), NowNs()) << "not in the future";
  AttrChanges c;
  c.atime_ns = 1000 * kSecond;
  ASSERT_TRUE(SetAttr(ctx(), kRoot, f, c).ok());
  const int64_t at = NowNs();
  r = UpdateAtimes(ctx(), kRoot, {{f, 5 * kSecond}}, true);  // long ago
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(Atime(f), at - kAtimeMaxAgeNs) << "at most a minute in the past";
  EXPECT_LE(Atime(f), NowNs());
}

TEST_F(AtimeTest, ABatchIsBounded) {
  const InodeId f = File("f", 0644, 1000 * kSecond, 2000 * kSecond);
  std::vector<AtimeRead> reads(kMaxAtimeReads + 1, AtimeRead{f, NowNs()});
  EXPECT_EQ(UpdateAtimes(ctx(), kRoot, reads, true).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Atime(f), 1000 * kSecond);
  reads.resize(kMaxAtimeReads);
  auto r = UpdateAtimes(ctx(), kRoot, reads, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(UpdateAtimes(ctx(), kRoot, {{-4, NowNs()}}, true).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ddbfs::meta::testing
