// BrowserModel against a real cluster: the first column, tag columns with
// counts narrowed to the selection, valued tags, paging, folders, saved
// queries, counts following a change, and QAbstractItemModelTester over all
// of it.

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <set>

#include "gui_fixture.h"
#include "tag_undo.h"

namespace ddbfs::gui::testing {
namespace {

class ModelTest : public GuiClusterTest<ModelTest> {
 protected:
  void SetUp() override {
    GuiClusterTest::SetUp();
    backend_ = std::make_unique<Backend>(BrowserOptions());
    model_ = std::make_unique<BrowserModel>(backend_.get());
  }
  void TearDown() override {
    model_.reset();
    if (backend_) backend_->WaitIdle();
    backend_.reset();
  }
  // The child `name` of parent, loaded completely.
  QModelIndex Open(const QModelIndex& parent, const std::string& name) {
    EXPECT_TRUE(LoadAll(*model_, parent));
    QModelIndex i = model_->childNamed(parent, QString::fromStdString(name));
    EXPECT_TRUE(i.isValid()) << "no row " << name;
    if (i.isValid()) {
      EXPECT_TRUE(LoadAll(*model_, i));
    }
    return i;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<BrowserModel> model_;
};

TEST_F(ModelTest, FirstColumnOffersTagsFoldersAndQueries) {
  EXPECT_EQ(Names(*model_, {}), (std::vector<std::string>{"Tags", "Folders", "Queries"}));
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(model_->hasChildren(model_->index(r, 0)));
}

TEST_F(ModelTest, TagsColumnHasEveryTagWithItsCount) {
  const QModelIndex tags = model_->tagsIndex();
  ASSERT_TRUE(LoadAll(*model_, tags));
  EXPECT_EQ(Names(*model_, tags), (std::vector<std::string>{"bulk", "doc", "draft", "pet", "photo",
                                                            "place", "rating", "taken", "year"}));
  EXPECT_EQ(CountOf(model_->childNamed(tags, "photo")), 3);
  EXPECT_EQ(CountOf(model_->childNamed(tags, "year")), 4);
  EXPECT_EQ(CountOf(model_->childNamed(tags, "bulk")), 12);
}

TEST_F(ModelTest, TagColumnHasCoOccurringTagsNarrowedThenItsDocuments) {
  QModelIndex photo = Open(model_->tagsIndex(), "photo");
  EXPECT_EQ(Names(*model_, photo),
            (std::vector<std::string>{"pet", "place", "year", "beach.jpg", "city.jpg", "cat.jpg"}));
  EXPECT_EQ(CountOf(model_->childNamed(photo, "place")), 2);
  EXPECT_EQ(CountOf(model_->childNamed(photo, "year")), 3);  // 4 in all, 3 among photos
  QModelIndex beach = model_->childNamed(photo, "beach.jpg");
  EXPECT_EQ(beach.data(BrowserModel::PathRole).toString(), "/photos/beach.jpg");
  EXPECT_FALSE(model_->hasChildren(beach));

  // A further column narrows again: photo and pet.
  QModelIndex pet = Open(photo, "pet");
  EXPECT_EQ(pet.data(BrowserModel::QueryRole).toString(), "photo and pet");
  EXPECT_EQ(Names(*model_, pet), (std::vector<std::string>{"year", "cat.jpg"}));
  EXPECT_EQ(CountOf(model_->childNamed(pet, "year")), 1);
}

TEST_F(ModelTest, ValuedTagOpensItsValuesSortedAsNumbersAndDates) {
  QModelIndex rating = Open(model_->tagsIndex(), "rating");
  EXPECT_EQ(Names(*model_, rating), (std::vector<std::string>{"(any value)", "=9", "=10", "=100"}));
  QModelIndex taken = Open(model_->tagsIndex(), "taken");
  EXPECT_EQ(Names(*model_, taken),
            (std::vector<std::string>{"(any value)", "=2020-12-31", "=2021-06-01"}));
  // Values within the selection: year among photos, then one value narrows.
  QModelIndex year = Open(Open(model_->tagsIndex(), "photo"), "year");
  EXPECT_EQ(Names(*model_, year),
            (std::vector<std::string>{"(any value)", "=2019", "=2020", "=2021"}));
  EXPECT_EQ(CountOf(model_->childNamed(year, "=2021")), 1);
  QModelIndex y2021 = Open(year, "=2021");
  EXPECT_EQ(y2021.data(BrowserModel::QueryRole).toString(), "photo and year=2021");
  EXPECT_EQ(Names(*model_, y2021), (std::vector<std::string>{"place", "beach.jpg"}));
}

TEST_F(ModelTest, DocumentsArriveInPagesAsTheViewAsks) {
  model_->set_page_size(5);
  const QModelIndex tags = model_->tagsIndex();
  ASSERT_TRUE(LoadAll(*model_, tags));
  QModelIndex bulk = model_->childNamed(tags, "bulk");
  ASSERT_TRUE(bulk.isValid());
  ASSERT_TRUE(model_->canFetchMore(bulk));
  QSignalSpy inserted(model_.get(), &QAbstractItemModel::rowsInserted);
  model_->fetchMore(bulk);
  ASSERT_TRUE(WaitFor([&] { return model_->outstanding() == 0; }));
  EXPECT_EQ(model_->rowCount(bulk), 5);
  EXPECT_TRUE(model_->canFetchMore(bulk));
  model_->fetchMore(bulk);
  ASSERT_TRUE(WaitFor([&] { return model_->outstanding() == 0; }));
  EXPECT_EQ(model_->rowCount(bulk), 10);
  model_->fetchMore(bulk);
  ASSERT_TRUE(WaitFor([&] { return model_->outstanding() == 0; }));
  EXPECT_EQ(model_->rowCount(bulk), 12);
  EXPECT_FALSE(model_->canFetchMore(bulk));
  EXPECT_EQ(inserted.count(), 3);
}

TEST_F(ModelTest, FoldersColumnWalksTheNamespace) {
  QModelIndex photos = Open(model_->foldersIndex(), "photos");
  EXPECT_EQ(model_->kindOf(photos), ModelNode::Kind::kFolder);
  EXPECT_EQ(Names(*model_, photos), (std::vector<std::string>{"beach.jpg", "cat.jpg", "city.jpg"}));
  EXPECT_EQ(model_->index(0, 0, photos).data(BrowserModel::PathRole).toString(),
            "/photos/beach.jpg");
}

TEST_F(ModelTest, SavedQueriesAndSearchBecomeColumns) {
  ASSERT_TRUE(client_->SaveQuery("recent", "year>=2020").ok());
  QModelIndex recent = Open(model_->queriesIndex(), "recent");
  EXPECT_EQ(Names(*model_, recent),
            (std::vector<std::string>{"doc", "photo", "place", "year", "beach.jpg", "city.jpg",
                                      "report.txt"}));
  QModelIndex search = model_->setSearch("doc and not draft");
  ASSERT_TRUE(LoadAll(*model_, search));
  EXPECT_EQ(Names(*model_, search), (std::vector<std::string>{"doc", "year", "report.txt"}));
  ASSERT_TRUE(client_->DeleteQuery("recent").ok());
}

TEST_F(ModelTest, CountsFollowATagChange) {
  QModelIndex photo = Open(model_->tagsIndex(), "photo");
  QModelIndex pet = model_->childNamed(photo, "pet");
  ASSERT_EQ(CountOf(pet), 1);
  auto city = client_->ResolvePath("/photos/city.jpg");
  ASSERT_TRUE(city.ok());
  ASSERT_TRUE(client_->SetTags(city->inode, {T("pet"), T("favourite")}, {}).ok());
  model_->refreshCounts(photo);
  EXPECT_TRUE(WaitFor([&] { return CountOf(model_->childNamed(photo, "pet")) == 2; }))
      << CountOf(model_->childNamed(photo, "pet"));
  // A tag new to the selection appears in its place in the order.
  EXPECT_TRUE(WaitFor([&] { return model_->childNamed(photo, "favourite").isValid(); }));
  EXPECT_EQ(Names(*model_, photo)[0], "favourite");
  EXPECT_TRUE(
      WaitFor([&] { return CountOf(model_->childNamed(model_->tagsIndex(), "pet")) == 2; }));
  ASSERT_TRUE(client_->SetTags(city->inode, {}, {T("pet"), T("favourite")}).ok());
}

// The live refresh of a tag column still paging updates the counts of its
// rows but leaves new rows to the next page: no row comes twice.
TEST_F(ModelTest, LiveRefreshOfAColumnStillPagingAddsNoRowTwice) {
  model_->set_tag_page_size(3);
  const QModelIndex tags = model_->tagsIndex();
  model_->fetchMore(tags);
  ASSERT_TRUE(WaitFor([&] { return model_->outstanding() == 0 && model_->rowCount(tags) == 3; }));
  ASSERT_TRUE(model_->canFetchMore(tags));
  ASSERT_EQ(Names(*model_, tags)[1], "doc");
  const int64_t docs = CountOf(model_->childNamed(tags, "doc"));
  auto f11 = client_->ResolvePath("/bulk/f11");
  ASSERT_TRUE(f11.ok());
  ASSERT_TRUE(client_->SetTags(f11->inode, {T("doc")}, {}).ok());
  model_->refreshLive({});
  EXPECT_TRUE(WaitFor([&] {
    return model_->outstanding() == 0 && CountOf(model_->childNamed(tags, "doc")) == docs + 1;
  }));
  EXPECT_EQ(model_->rowCount(tags), 3);
  ASSERT_TRUE(LoadAll(*model_, tags));
  const std::vector<std::string> names = Names(*model_, tags);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_GT(names.size(), 3u);
  ASSERT_TRUE(client_->SetTags(f11->inode, {}, {T("doc")}).ok());
}

// QAbstractItemModelTester checks every signal and answer while the model
// loads three levels of every branch.
TEST_F(ModelTest, ModelTesterFindsNothingWrongWhileEveryBranchLoads) {
  const int failures_before = tester_failures.load();
  model_->set_page_size(4);
  QAbstractItemModelTester tester(model_.get(),
                                  QAbstractItemModelTester::FailureReportingMode::Warning);
  ASSERT_TRUE(client_->SaveQuery("photos", "photo").ok());
  model_->setSearch("photo or doc");
  std::vector<std::pair<QModelIndex, int>> todo;
  for (int r = 0; r < model_->rowCount(); ++r) todo.push_back({model_->index(r, 0), 1});
  int loaded = 0;
  while (!todo.empty()) {
    auto [index, depth] = todo.back();
    todo.pop_back();
    ASSERT_TRUE(LoadAll(*model_, index)) << index.data().toString().toStdString();
    ++loaded;
    if (depth == 3) continue;
    for (int r = 0; r < model_->rowCount(index); ++r) {
      QModelIndex child = model_->index(r, 0, index);
      if (model_->hasChildren(child)) todo.push_back({child, depth + 1});
    }
  }
  EXPECT_GT(loaded, 40);
  // Reloads and removals are checked too.
  model_->reload(model_->tagsIndex());
  ASSERT_TRUE(LoadAll(*model_, model_->tagsIndex()));
  model_->refreshCounts(model_->childNamed(model_->tagsIndex(), "photo"));
  ASSERT_TRUE(WaitFor([&] { return model_->outstanding() == 0; }));
  EXPECT_EQ(tester_failures.load(), failures_before);
  ASSERT_TRUE(client_->DeleteQuery("photos").ok());
}

// The undo of a tag change puts back exactly what each document had.
TEST(TagUndoTest, InverseRestoresEachDocumentsOwnTags) {
  // Change: add "pet" and "favourite", remove "year" (a name: every value).
  std::map<InodeId, std::vector<Tag>> before = {
      {1, {T("pet"), T("year", "2020")}},                  // had pet already
      {2, {T("favourite", "yes"), T("year", "2021")}},     // a value of favourite
      {3, {T("pet"), T("favourite"), T("year", "2019")}},  // had both
      {4, {T("pet"), T("year", "2020")}}};                 // as document 1
  std::map<InodeId, std::vector<Tag>> after = {
      {1, {T("favourite"), T("pet")}},
      {2, {T("favourite"), T("favourite", "yes"), T("pet")}},
      {3, {T("favourite"), T("pet")}},
      {4, {T("favourite"), T("pet")}}};
  std::vector<TagChange> undo = InverseOf(before, after);
  // Apply the undo the way the metaserver does (remove first, a name alone
  // taking its values off, then add) and compare with before.
  std::map<InodeId, std::vector<Tag>> result = after;
  for (const TagChange& ch : undo) {
    for (InodeId i : ch.inodes) {
      std::vector<Tag>& tags = result[i];
      for (const Tag& r : ch.remove) {
        std::erase_if(tags, [&](const Tag& t) { return t.name == r.name && (!r.value || t == r); });
      }
      for (const Tag& a : ch.add) {
        if (std::find(tags.begin(), tags.end(), a) == tags.end()) tags.push_back(a);
      }
    }
  }
  for (auto& [inode, tags] : result) {
    std::vector<Tag> want = before[inode];
    auto key = [](const Tag& t) { return TagText(t); };
    std::sort(tags.begin(), tags.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    std::sort(want.begin(), want.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    EXPECT_EQ(tags, want) << "document " << inode;
  }
  // Documents 1 and 4 need the same undo: one call for both.
  ASSERT_EQ(undo.size(), 3u);
  EXPECT_TRUE(std::any_of(undo.begin(), undo.end(), [](const TagChange& ch) {
    return ch.inodes == std::vector<InodeId>{1, 4};
  }));
}

}  // namespace
}  // namespace ddbfs::gui::testing
