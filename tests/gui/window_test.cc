// The main window driven as a user would, offscreen, against a real
// cluster: clicking through tag columns, tagging in the details pane (and
// undoing it), the search bar, deleting with confirmation, and the banner
// while the metaserver is stopped and after it is back.

#include <QAbstractItemView>
#include <QApplication>
#include <QCompleter>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QStatusBar>
#include <QToolButton>

#include "column_view.h"
#include "details_pane.h"
#include "gui_fixture.h"
#include "main_window.h"
#include "search_bar.h"

namespace ddbfs::gui::testing {
namespace {

class WindowTest : public GuiClusterTest<WindowTest> {
 protected:
  void SetUp() override {
    GuiClusterTest::SetUp();
    window_ = std::make_unique<MainWindow>(BrowserOptions());
    window_->set_confirm_hook([this](const QString& q) {
      questions_ << q;
      return confirm_answer_;
    });
    window_->set_prompt_hook(
        [](const QString&, const QString&, const QString&) { return std::nullopt; });
    window_->set_status_interval_ms(300);
    window_->backend()->set_probe_interval_ms(300);
    window_->show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(window_.get()));
    window_->activateWindow();
    ASSERT_TRUE(QTest::qWaitForWindowActive(window_.get()));
  }
  void TearDown() override { window_.reset(); }

  BrowserModel& model() { return *window_->model(); }

  // Clicks the row `name` of the column showing parent's children, waiting
  // for the column and the row to appear.
  QModelIndex Click(const QModelIndex& parent, const QString& name) {
    QAbstractItemView* column = nullptr;
    QModelIndex row;
    const bool shown = WaitFor([&] {
      column = window_->columns()->columnFor(parent);
      row = model().childNamed(parent, name);
      return column && row.isValid();
    });
    EXPECT_TRUE(shown) << "no row " << name.toStdString() << " shown";
    if (!shown) return {};
    column->scrollTo(row);
    QTest::mouseClick(column->viewport(), Qt::LeftButton, {}, column->visualRect(row).center());
    EXPECT_EQ(window_->columns()->currentIndex(), row);
    return row;
  }
  // The rows the column of `parent` shows, once it is loaded.
  std::vector<std::string> Shown(const QModelIndex& parent) {
    EXPECT_TRUE(WaitFor([&] {
      return window_->columns()->columnFor(parent) && model().outstanding() == 0 &&
             !model().canFetchMore(parent);
    }));
    QAbstractItemView* column = window_->columns()->columnFor(parent);
    std::vector<std::string> out;
    if (!column) return out;
    for (int r = 0; r < column->model()->rowCount(column->rootIndex()); ++r) {
      out.push_back(
          column->model()->index(r, 0, column->rootIndex()).data().toString().toStdString());
    }
    return out;
  }

  std::unique_ptr<MainWindow> window_;
  QStringList questions_;
  bool confirm_answer_ = false;
};

TEST_F(WindowTest, ClickingATagOpensItsColumnWithCoOccurringCounts) {
  QModelIndex tags = Click({}, "Tags");
  QModelIndex photo = Click(tags, "photo");
  ASSERT_TRUE(photo.isValid());
  EXPECT_EQ(CountOf(photo), 3);
  EXPECT_EQ(Shown(photo),
            (std::vector<std::string>{"pet", "place", "year", "beach.jpg", "city.jpg", "cat.jpg"}));
  EXPECT_EQ(CountOf(model().childNamed(photo, "place")), 2);
  // A valued tag's column: its values, numbers in order.
  QModelIndex year = Click(photo, "year");
  EXPECT_EQ(Shown(year), (std::vector<std::string>{"(any value)", "=2019", "=2020", "=2021"}));
  // A document shows its details.
  QModelIndex cat = Click(photo, "cat.jpg");
  ASSERT_TRUE(cat.isValid());
  EXPECT_TRUE(WaitFor([&] { return !window_->details()->loading(); }));
  EXPECT_EQ(window_->details()->inode(), cat.data(BrowserModel::InodeRole).toLongLong());
  EXPECT_EQ(window_->details()->chipTexts(), (QStringList{"pet", "photo", "year=2019"}));
}

TEST_F(WindowTest, AddingATagChangesTheCountsAndUndoTakesItBack) {
  QModelIndex tags = Click({}, "Tags");
  QModelIndex photo = Click(tags, "photo");
  Click(photo, "cat.jpg");
  ASSERT_TRUE(WaitFor([&] { return !window_->details()->loading(); }));
  ASSERT_EQ(CountOf(model().childNamed(tags, "place")), 2);
  ASSERT_EQ(CountOf(model().childNamed(photo, "place")), 2);

  QLineEdit* field = window_->details()->addTagField();
  // "pet" is on cat.jpg already: the undo must leave it there.
  QTest::keyClicks(field, "pet place=home");
  QTest::keyClick(field, Qt::Key_Return);
  EXPECT_TRUE(WaitFor([&] { return CountOf(model().childNamed(tags, "place")) == 3; }))
      << CountOf(model().childNamed(tags, "place"));
  EXPECT_TRUE(WaitFor([&] { return CountOf(model().childNamed(photo, "place")) == 3; }));
  EXPECT_TRUE(WaitFor([&] { return window_->details()->chipTexts().contains("place=home"); }));

  window_->undoTagChange();
  EXPECT_TRUE(WaitFor([&] { return CountOf(model().childNamed(tags, "place")) == 2; }));
  EXPECT_TRUE(WaitFor([&] { return !window_->details()->chipTexts().contains("place=home"); }));
  EXPECT_EQ(window_->details()->chipTexts(), (QStringList{"pet", "photo", "year=2019"}));
  EXPECT_EQ(CountOf(model().childNamed(tags, "pet")), 1);

  // A chip's button takes its tag off.
  QTest::keyClicks(field, "draft");
  QTest::keyClick(field, Qt::Key_Return);
  ASSERT_TRUE(WaitFor([&] { return CountOf(model().childNamed(tags, "draft")) == 2; }));
  ASSERT_TRUE(WaitFor([&] { return window_->details()->chipTexts().contains("draft"); }));
  QToolButton* chip = nullptr;
  for (QToolButton* b : window_->details()->findChildren<QToolButton*>("chip")) {
    if (b->property("tag").toString() == "draft") chip = b;
  }
  ASSERT_NE(chip, nullptr);
  QTest::mouseClick(chip, Qt::LeftButton);
  EXPECT_TRUE(WaitFor([&] { return CountOf(model().childNamed(tags, "draft")) == 1; }));
}

TEST_F(WindowTest, SearchBarRunsAQueryAndPointsAtASyntaxError) {
  QTest::keyClick(window_.get(), Qt::Key_F, Qt::ControlModifier);
  QLineEdit* field = window_->searchBar()->field();
  EXPECT_TRUE(WaitFor([&] { return QApplication::focusWidget() == field; }));
  QTest::keyClicks(field, "photo and and year");
  EXPECT_EQ(window_->searchBar()->errorColumn(), 11);
  EXPECT_TRUE(window_->searchBar()->errorText().contains("column 11"))
      << window_->searchBar()->errorText().toStdString();
  QTest::keyClick(field, Qt::Key_Return);  // refused: no search row
  EXPECT_EQ(model().rowCount(), 3);

  // Tag names complete at the word being typed, keeping what is before it.
  field->clear();
  QTest::keyClicks(field, "doc and pl");
  QCompleter* completer = field->completer();
  ASSERT_NE(completer, nullptr);
  EXPECT_TRUE(WaitFor([&] { return completer->currentCompletion() == "doc and place"; }))
      << completer->currentCompletion().toStdString();

  field->clear();
  EXPECT_EQ(window_->searchBar()->errorColumn(), 0);
  QTest::keyClicks(field, "photo and year>=2020");
  EXPECT_TRUE(window_->searchBar()->errorText().isEmpty());
  QTest::keyClick(field, Qt::Key_Return);
  ASSERT_EQ(model().rowCount(), 4);
  const QModelIndex search = model().index(3, 0);
  EXPECT_EQ(window_->columns()->currentIndex(), search);
  EXPECT_EQ(Shown(search),
            (std::vector<std::string>{"photo", "place", "year", "beach.jpg", "city.jpg"}));
}

TEST_F(WindowTest, DeleteAsksFirstAndThenRemovesTheDocument) {
  QModelIndex folders = Click({}, "Folders");
  QModelIndex docs = Click(folders, "docs");
  QModelIndex notes = Click(docs, "notes.txt");
  ASSERT_TRUE(notes.isValid());
  QAbstractItemView* column = window_->columns()->columnFor(docs);
  ASSERT_NE(column, nullptr);
  column->setFocus();

  confirm_answer_ = false;  // "Cancel"
  QTest::keyClick(column, Qt::Key_Delete);
  ASSERT_EQ(questions_.size(), 1);
  EXPECT_TRUE(questions_[0].contains("/docs/notes.txt")) << questions_[0].toStdString();
  QTest::qWait(300);
  EXPECT_TRUE(client_->ResolvePath("/docs/notes.txt").ok());
  EXPECT_TRUE(model().childNamed(docs, "notes.txt").isValid());

  confirm_answer_ = true;  // "Yes"
  QTest::keyClick(column, Qt::Key_Delete);
  ASSERT_EQ(questions_.size(), 2);
  EXPECT_TRUE(WaitFor([&] { return !model().childNamed(docs, "notes.txt").isValid(); }))
      << window_->statusBar()->currentMessage().toStdString();
  EXPECT_EQ(client_->ResolvePath("/docs/notes.txt").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(WaitFor([&] {
    return !model().childNamed(model().tagsIndex(), "draft").isValid() ||
           CountOf(model().childNamed(model().tagsIndex(), "draft")) == 0;
  }));
}

TEST_F(WindowTest, DeletingAFolderAsksFirstAndRemovesEverythingInIt) {
  // A folder with a subfolder, files at both levels and a tagged file.
  ASSERT_TRUE(client_->Mkdir(1, "old", 0755).ok());
  ASSERT_TRUE(client_->Mkdir(client_->ResolvePath("/old")->inode, "deep", 0755).ok());
  ASSERT_TRUE(PutTagged(*client_, "/old/a.txt", "a", {}).ok());
  ASSERT_TRUE(PutTagged(*client_, "/old/deep/b.txt", "b", {Tag{"oldtag", std::nullopt}}).ok());
  QModelIndex folders = Click({}, "Folders");
  QModelIndex old = Click(folders, "old");
  ASSERT_TRUE(old.isValid());
  QAbstractItemView* column = window_->columns()->columnFor(folders);
  ASSERT_NE(column, nullptr);
  column->setFocus();

  confirm_answer_ = false;
  QTest::keyClick(column, Qt::Key_Delete);
  ASSERT_EQ(questions_.size(), 1);
  EXPECT_TRUE(questions_[0].contains("everything in them")) << questions_[0].toStdString();
  EXPECT_TRUE(questions_[0].contains("/old/")) << questions_[0].toStdString();
  QTest::qWait(300);
  EXPECT_TRUE(client_->ResolvePath("/old/deep/b.txt").ok());

  confirm_answer_ = true;
  QTest::keyClick(column, Qt::Key_Delete);
  ASSERT_EQ(questions_.size(), 2);
  EXPECT_TRUE(WaitFor([&] { return !model().childNamed(folders, "old").isValid(); }))
      << window_->statusBar()->currentMessage().toStdString();
  EXPECT_EQ(client_->ResolvePath("/old").status().code(), ErrorCode::kNotFound);
}

TEST_F(WindowTest, KeyboardGoesToAPathAndRefreshes) {
  window_->set_prompt_hook([](const QString& title, const QString&, const QString&) {
    return title == "Go to path" ? std::optional<QString>("/photos/cat.jpg") : std::nullopt;
  });
  QTest::keyClick(window_.get(), Qt::Key_L, Qt::ControlModifier);
  EXPECT_TRUE(WaitFor([&] {
    return window_->columns()->currentIndex().data(BrowserModel::PathRole).toString() ==
           "/photos/cat.jpg";
  }));
  EXPECT_TRUE(WaitFor([&] { return window_->details()->chipTexts().contains("pet"); }));
  // A file added behind the browser's back shows after F5 in its folder.
  ASSERT_TRUE(PutTagged(*client_, "/photos/new.jpg", "", {}).ok());
  const QModelIndex photos = window_->columns()->currentIndex().parent();
  EXPECT_FALSE(model().childNamed(photos, "new.jpg").isValid());
  QTest::keyClick(window_.get(), Qt::Key_F5);
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(photos, "new.jpg").isValid(); }));
  ASSERT_TRUE(client_->Unlink(client_->ResolvePath("/photos")->inode, "new.jpg").ok());
}

// Changes made by another client show without F5, in place: the selection
// and the current document stay.
TEST_F(WindowTest, LiveRefreshShowsAnotherClientsChangesKeepingTheSelection) {
  ASSERT_TRUE(PutTagged(*client_, "/docs/live1.txt", "one", {T("live")}).ok());
  window_->set_refresh_interval_ms(300);
  QModelIndex tags = Click({}, "Tags");
  QModelIndex live = Click(tags, "live");
  ASSERT_EQ(Shown(live), (std::vector<std::string>{"live1.txt"}));
  const QPersistentModelIndex live1 = Click(live, "live1.txt");
  ASSERT_EQ(CountOf(live), 1);
  // The selected row of each column, by name.
  auto selection = [&] {
    QStringList names;
    for (const QModelIndex& i : window_->columns()->selectionModel()->selectedIndexes()) {
      names << i.data().toString();
    }
    names.sort();
    return names;
  };
  const QStringList selected = selection();
  ASSERT_EQ(selected, (QStringList{"Tags", "live", "live1.txt"}));
  int resets = 0;
  int removed = 0;
  QObject::connect(&model(), &QAbstractItemModel::modelAboutToBeReset, [&] { ++resets; });
  QObject::connect(&model(), &QAbstractItemModel::rowsAboutToBeRemoved, [&] { ++removed; });

  // Another client adds a document tagged live, and a new tag appears.
  ASSERT_TRUE(PutTagged(*client_, "/docs/live2.txt", "two", {T("live"), T("fresh")}).ok());
  EXPECT_TRUE(WaitFor([&] { return CountOf(live) == 2; }, 3000)) << CountOf(live);
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(live, "live2.txt").isValid(); }, 3000));
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(live, "fresh").isValid(); }, 3000));
  EXPECT_TRUE(model().childNamed(tags, "fresh").isValid());
  EXPECT_EQ(window_->columns()->currentIndex(), QModelIndex(live1));
  EXPECT_EQ(selection(), selected);
  EXPECT_EQ(window_->details()->inode(), live1.data(BrowserModel::InodeRole).toLongLong());
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(removed, 0);

  // It goes away the same way; the current row stays.
  ASSERT_TRUE(client_->Unlink(client_->ResolvePath("/docs")->inode, "live2.txt").ok());
  EXPECT_TRUE(WaitFor([&] { return !model().childNamed(live, "live2.txt").isValid(); }, 3000));
  EXPECT_TRUE(WaitFor([&] { return CountOf(live) == 1; }, 3000));
  EXPECT_EQ(window_->columns()->currentIndex(), QModelIndex(live1));
  EXPECT_EQ(selection(), selected);
  EXPECT_EQ(resets, 0);

  // Not while a tag is being typed in the details pane.
  window_->details()->addTagField()->setText("typing");
  ASSERT_TRUE(PutTagged(*client_, "/docs/live3.txt", "three", {T("live")}).ok());
  QTest::qWait(1000);
  EXPECT_EQ(CountOf(live), 1);
  window_->details()->addTagField()->clear();
  EXPECT_TRUE(WaitFor([&] { return CountOf(live) == 2; }, 3000));
}

// A folder's column follows too: entries added, renamed and removed by
// another client, in place.
TEST_F(WindowTest, LiveRefreshFollowsAFolderColumn) {
  window_->set_refresh_interval_ms(300);
  QModelIndex folders = Click({}, "Folders");
  QModelIndex ratings = Click(folders, "ratings");
  ASSERT_FALSE(Shown(ratings).empty());
  const QPersistentModelIndex r9 = Click(ratings, "r9");
  int resets = 0;
  QObject::connect(&model(), &QAbstractItemModel::modelAboutToBeReset, [&] { ++resets; });
  const InodeId dir = client_->ResolvePath("/ratings")->inode;
  ASSERT_TRUE(PutTagged(*client_, "/ratings/r7", "", {}).ok());
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(ratings, "r7").isValid(); }, 3000));
  ASSERT_TRUE(client_->Rename(dir, "r7", dir, "r8", Client::kRenameNoReplace).ok());
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(ratings, "r8").isValid(); }, 3000));
  EXPECT_FALSE(model().childNamed(ratings, "r7").isValid());
  ASSERT_TRUE(client_->Unlink(dir, "r8").ok());
  EXPECT_TRUE(WaitFor([&] { return !model().childNamed(ratings, "r8").isValid(); }, 3000));
  EXPECT_EQ(window_->columns()->currentIndex(), QModelIndex(r9));
  EXPECT_EQ(resets, 0);
}

TEST_F(WindowTest, RemembersColumnWidthsAndTheClusterAcrossRuns) {
  QSettings().clear();
  QModelIndex tags = Click({}, "Tags");
  ASSERT_TRUE(WaitFor([&] { return window_->columns()->columnFor(tags) != nullptr; }));
  window_->columns()->setColumnWidths({150, 260});
  window_->close();
  EXPECT_EQ(QSettings().value("cluster/last").toString().toStdString(), cluster_->meta_address());
  window_ = std::make_unique<MainWindow>(BrowserOptions());
  window_->show();
  ASSERT_TRUE(QTest::qWaitForWindowExposed(window_.get()));
  ASSERT_FALSE(window_->columns()->columnWidths().isEmpty());
  EXPECT_EQ(window_->columns()->columnWidths()[0], 150);
  tags = Click({}, "Tags");
  ASSERT_TRUE(WaitFor([&] { return window_->columns()->columnWidths().size() >= 2; }));
  EXPECT_EQ(window_->columns()->columnWidths()[1], 260);
}

TEST_F(WindowTest, BannerWhileTheMetaserverIsStoppedThenTheBrowserRecoversInPlace) {
  QModelIndex tags = Click({}, "Tags");
  QModelIndex photo = Click(tags, "photo");
  ASSERT_EQ(Shown(photo).size(), 6u);
  EXPECT_TRUE(window_->banner()->isHidden());
  EXPECT_TRUE(WaitFor([&] { return window_->clusterStatus()->text().contains("3 of 3"); }))
      << window_->clusterStatus()->text().toStdString();

  cluster_->StopMetaserver();
  ASSERT_TRUE(WaitFor([&] { return window_->banner()->isVisible(); }, 20000));
  EXPECT_TRUE(window_->banner()->text().contains("Reconnecting"));
  // The user's place is kept while it is down.
  EXPECT_EQ(window_->columns()->currentIndex(), photo);

  cluster_->StartMetaserver();
  EXPECT_TRUE(WaitFor([&] { return window_->banner()->isHidden(); }, 30000));
  EXPECT_EQ(window_->columns()->currentIndex(), photo);
  // And it works again: a new column loads.
  QModelIndex pet = Click(photo, "pet");
  EXPECT_EQ(Shown(pet), (std::vector<std::string>{"year", "cat.jpg"}));
}

}  // namespace
}  // namespace ddbfs::gui::testing
