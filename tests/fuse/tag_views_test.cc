// The tag views of ddbfs-mount (fuse/tag_views.h, docs/tags.md): .tags/
// and .query/ at the root, writing through them, and the user.ddbfs.*
// extended attributes, on a real cluster and mount. Tags are the whole
// cluster's: each test uses names of its own.

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fuse_fixture.h"

namespace ddbfs::testing {
namespace {

std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  ::closedir(d);
  return out;
}

std::string LinkOf(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return "error: " + std::string(std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

std::string Xattr(const std::string& path, const std::string& name) {
  char buf[4096];
  const ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  if (n < 0) return "error: " + std::string(std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

class TagViewsTest : public FuseTest {
 protected:
  void SetUp() override {
    FuseTest::SetUp();
    if (HasFatalFailure()) return;
    client_ = cluster_->NewClient();
    ASSERT_NE(client_, nullptr);
  }
  // A tag name of this test's own.
  std::string Tg(const std::string& base) const { return name_ + "-" + base; }
  InodeId Doc(const std::string& rel, const std::vector<Tag>& tags) {
    EXPECT_EQ(WriteFile(P(rel), rel), 0) << rel;
    auto a = client_->ResolvePath(DdbfsPath(rel));
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return 0;
    if (!tags.empty()) {
      EXPECT_TRUE(client_->SetTags(a->inode, tags, {}).ok());
    }
    return a->inode;
  }
  std::vector<std::string> TagsOf(const std::string& rel) {
    auto a = client_->ResolvePath(DdbfsPath(rel));
    EXPECT_TRUE(a.ok()) << a.status();
    std::vector<std::string> out;
    if (!a.ok()) return out;
    auto t = client_->GetTags(a->inode);
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) {
      for (const Tag& x : *t) out.push_back(TagText(x));
    }
    return out;
  }
  std::unique_ptr<Client> client_;
};

TEST_F(TagViewsTest, TagFoldersListDocumentsAsLinksAndAreNotListedInTheRoot) {
  const std::string photo = Tg("photo");
  const std::string year = Tg("year");
  const std::string draft = Tg("draft");
  ASSERT_EQ(::mkdir(P("sub").c_str(), 0755), 0);
  Doc("a.jpg", {Tag{photo, {}}, Tag{year, "2021"}});
  const InodeId b = Doc("sub/a.jpg", {Tag{photo, {}}, Tag{year, "2020"}, Tag{draft, {}}});
  Doc("c.txt", {Tag{year, "2021"}});

  // Reachable by name, never listed: find, du and rsync do not walk them.
  const std::set<std::string> root = Names(mnt_);
  EXPECT_EQ(root.count(".tags"), 0u);
  EXPECT_EQ(root.count(".query"), 0u);
  struct stat st;
  ASSERT_EQ(::stat((mnt_ + "/.tags").c_str(), &st), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  const std::set<std::string> tags = Names(mnt_ + "/.tags");
  EXPECT_EQ(tags.count(photo), 1u);
  EXPECT_EQ(tags.count(year), 1u);

  // .tags/photo: its documents as relative links (two named a.jpg: both
  // get their inode in the name), and the tags that occur with it.
  const std::string in_photo = mnt_ + "/.tags/" + photo;
  const std::set<std::string> listed = Names(in_photo);
  const std::string b_name = "a." + std::to_string(b) + ".jpg";
  EXPECT_EQ(listed.count(b_name), 1u) << ::testing::PrintToString(listed);
  EXPECT_EQ(listed.count("a.jpg"), 0u);
  EXPECT_EQ(listed.count(year), 1u);
  EXPECT_EQ(listed.count(draft), 1u);
  EXPECT_EQ(listed.count("c.txt"), 0u);
  EXPECT_EQ(LinkOf(in_photo + "/" + b_name), "../../" + name_ + "/sub/a.jpg");
  EXPECT_EQ(ReadFile(in_photo + "/" + b_name), "sub/a.jpg");  // resolves through the mount
  ASSERT_EQ(::lstat((in_photo + "/" + b_name).c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));

  // A conjunction, one folder per tag; a valued tag's values as =VALUE.
  EXPECT_EQ(Names(in_photo + "/" + draft).count(b_name), 0u);  // alone there: its own name
  EXPECT_EQ(Names(in_photo + "/" + draft).count("a.jpg"), 1u);
  EXPECT_EQ(LinkOf(in_photo + "/" + draft + "/a.jpg"), "../../../" + name_ + "/sub/a.jpg");
  const std::set<std::string> values = Names(mnt_ + "/.tags/" + year);
  EXPECT_EQ(values.count("=2020"), 1u);
  EXPECT_EQ(values.count("=2021"), 1u);
  const std::set<std::string> y2021 = Names(mnt_ + "/.tags/" + year + "/=2021");
  EXPECT_EQ(y2021.count("c.txt"), 1u) << ::testing::PrintToString(y2021);
  EXPECT_EQ(y2021.count("a.jpg"), 1u);
  EXPECT_EQ(y2021.count(photo), 1u);
  EXPECT_EQ(ReadFile(mnt_ + "/.tags/" + year + "/=2021/c.txt"), "c.txt");

  // Names that are no view.
  EXPECT_EQ(ErrnoOf([&] { return ::stat((mnt_ + "/.tags/" + Tg("none")).c_str(), &st); }), ENOENT);
  EXPECT_EQ(ErrnoOf([&] { return ::stat((in_photo + "/nothing.jpg").c_str(), &st); }), ENOENT);
}

TEST_F(TagViewsTest, QueryFoldersTakeAnyExpressionAndTheSavedOnes) {
  const std::string photo = Tg("photo");
  const std::string draft = Tg("draft");
  Doc("keep.jpg", {Tag{photo, {}}});
  Doc("wip.jpg", {Tag{photo, {}}, Tag{draft, {}}});
  const std::string q = mnt_ + "/.query/" + photo + " and not " + draft;
  EXPECT_EQ(Names(q), (std::set<std::string>{"keep.jpg"}));
  EXPECT_EQ(LinkOf(q + "/keep.jpg"), "../../" + name_ + "/keep.jpg");
  // %2F is '/', %25 is '%'.
  const std::string by_path = mnt_ + "/.query/@path=%2F" + name_ + "%2F*";
  EXPECT_EQ(Names(by_path), (std::set<std::string>{"keep.jpg", "wip.jpg"}));
  // A malformed expression: EINVAL.
  struct stat st;
  EXPECT_EQ(ErrnoOf([&] { return ::stat((mnt_ + "/.query/" + photo + " and (").c_str(), &st); }),
            EINVAL);
  // Saved queries are listed by name and run.
  ASSERT_TRUE(client_->SaveQuery(name_, draft).ok());
  EXPECT_EQ(Names(mnt_ + "/.query").count(name_), 1u);
  EXPECT_EQ(Names(mnt_ + "/.query/" + name_), (std::set<std::string>{"wip.jpg"}));
  ASSERT_TRUE(client_->DeleteQuery(name_).ok());
}

TEST_F(TagViewsTest, WritingThroughTheViewsTagsAndUntags) {
  const std::string fresh = Tg("fresh");
  Doc("doc.txt", {});
  const std::string tags = mnt_ + "/.tags";
  // mkdir makes a tag; a link into its folder tags the document.
  ASSERT_EQ(::mkdir((tags + "/" + fresh).c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir((tags + "/" + fresh).c_str(), 0755); }), EEXIST);
  ASSERT_EQ(::symlink(("../../" + name_ + "/doc.txt").c_str(), (tags + "/" + fresh + "/x").c_str()),
            0)
      << std::strerror(errno);
  EXPECT_EQ(TagsOf("doc.txt"), (std::vector<std::string>{fresh}));
  EXPECT_EQ(Names(tags + "/" + fresh), (std::set<std::string>{"doc.txt"}));
  // An absolute link into the mount works too (into a =VALUE folder: the
  // tag with that value).
  const std::string rated = Tg("rated");
  ASSERT_EQ(::mkdir((tags + "/" + rated).c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tags + "/" + rated + "/=5").c_str(), 0755), -1);  // values are not made
  Doc("other.txt", {Tag{rated, "4"}});
  ASSERT_EQ(::symlink(P("doc.txt").c_str(), (tags + "/" + rated + "/=4/doc.txt").c_str()), 0)
      << std::strerror(errno);
  EXPECT_EQ(TagsOf("doc.txt"), (std::vector<std::string>{fresh, rated + "=4"}));
  // A link to something outside the mount, or to nothing: EINVAL, ENOENT.
  EXPECT_EQ(ErrnoOf([&] { return ::symlink("/etc/passwd", (tags + "/" + fresh + "/p").c_str()); }),
            EINVAL);
  EXPECT_EQ(ErrnoOf([&] {
              return ::symlink(("../../" + name_ + "/missing").c_str(),
                               (tags + "/" + fresh + "/m").c_str());
            }),
            ENOENT);
  // rmdir of a tag in use: ENOTEMPTY. rm of a link untags; the document stays.
  EXPECT_EQ(ErrnoOf([&] { return ::rmdir((tags + "/" + fresh).c_str()); }), ENOTEMPTY);
  ASSERT_EQ(::unlink((tags + "/" + fresh + "/doc.txt").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(TagsOf("doc.txt"), (std::vector<std::string>{rated + "=4"}));
  EXPECT_EQ(ReadFile(P("doc.txt")), "doc.txt");
  EXPECT_EQ(ErrnoOf([&] { return ::unlink((tags + "/" + fresh + "/doc.txt").c_str()); }), ENOENT);
  // mv renames a tag; rmdir deletes one nothing carries.
  const std::string renamed = Tg("renamed");
  ASSERT_EQ(::rename((tags + "/" + fresh).c_str(), (tags + "/" + renamed).c_str()), 0)
      << std::strerror(errno);
  EXPECT_EQ(Names(tags).count(fresh), 0u);
  ASSERT_EQ(::rmdir((tags + "/" + renamed).c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(Names(tags).count(renamed), 0u);
  // No files in the views, and no real node named like them at the root.
  EXPECT_EQ(ErrnoOf([&] {
              return ::open((tags + "/" + rated + "/f").c_str(), O_CREAT | O_WRONLY, 0644);
            }),
            EPERM);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir((mnt_ + "/.tags").c_str(), 0755); }), EEXIST);
  EXPECT_EQ(ErrnoOf([&] {
              return ::rename(P("other.txt").c_str(), (tags + "/" + rated + "/o").c_str());
            }),
            EXDEV);
}

TEST_F(TagViewsTest, TagsAsExtendedAttributes) {
  const std::string a = Tg("a");
  const std::string b = Tg("b");
  Doc("f", {});
  const std::string f = P("f");
  EXPECT_EQ(Xattr(f, "user.ddbfs.tags"), std::string("error: ") + std::strerror(ENODATA));
  const std::string set = a + "\n" + b + "=1\n" + b + "=2\n";
  ASSERT_EQ(::setxattr(f.c_str(), "user.ddbfs.tags", set.data(), set.size(), 0), 0)
      << std::strerror(errno);
  EXPECT_EQ(TagsOf("f"), (std::vector<std::string>{a, b + "=1", b + "=2"}));
  EXPECT_EQ(Xattr(f, "user.ddbfs.tags"), a + "\n" + b + "=1\n" + b + "=2");
  EXPECT_EQ(Xattr(f, "user.ddbfs.tag." + b), "1\n2");
  EXPECT_EQ(Xattr(f, "user.ddbfs.tag." + a), "");
  // Listed, so that cp -a carries the tags.
  char list[4096];
  const ssize_t n = ::listxattr(f.c_str(), list, sizeof list);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(list, static_cast<size_t>(n)).find("user.ddbfs.tags"), std::string::npos);
  // tag.NAME replaces that tag's values; removing it untags.
  ASSERT_EQ(::setxattr(f.c_str(), ("user.ddbfs.tag." + b).c_str(), "3", 1, 0), 0);
  EXPECT_EQ(TagsOf("f"), (std::vector<std::string>{a, b + "=3"}));
  ASSERT_EQ(::removexattr(f.c_str(), ("user.ddbfs.tag." + a).c_str()), 0);
  EXPECT_EQ(TagsOf("f"), (std::vector<std::string>{b + "=3"}));
  EXPECT_EQ(ErrnoOf([&] { return ::removexattr(f.c_str(), ("user.ddbfs.tag." + a).c_str()); }),
            ENODATA);
  auto r = RunCommand({"cp", "-a", f, P("g")});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(TagsOf("g"), (std::vector<std::string>{b + "=3"}));
  // A bad tag changes nothing.
  const std::string bad = a + "\nno/slash";
  EXPECT_EQ(
      ErrnoOf([&] { return ::setxattr(f.c_str(), "user.ddbfs.tags", bad.data(), bad.size(), 0); }),
      EINVAL);
  EXPECT_EQ(TagsOf("f"), (std::vector<std::string>{b + "=3"}));
  ASSERT_EQ(::removexattr(f.c_str(), "user.ddbfs.tags"), 0);
  EXPECT_TRUE(TagsOf("f").empty());
}

}  // namespace
}  // namespace ddbfs::testing
