// The main window's actions on several documents and on local files:
// tagging a multi-selection, dropping documents on a tag, adding files with
// progress (and cancelling), renaming, moving, going to a path, and the
// details pane's previews.

#include <QAbstractItemView>
#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QMimeData>
#include <QPainter>
#include <QPdfWriter>
#include <QProgressDialog>
#include <QPushButton>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTextStream>
#include <QToolButton>
#include <QUrl>

#include "column_view.h"
#include "details_pane.h"
#include "gui_fixture.h"
#include "main_window.h"
#include "test_files.h"

namespace ddbfs::gui::testing {
namespace {

class ActionsTest : public GuiClusterTest<ActionsTest> {
 protected:
  void SetUp() override {
    GuiClusterTest::SetUp();
    window_ = std::make_unique<MainWindow>(BrowserOptions());
    window_->set_confirm_hook([](const QString&) { return true; });
    window_->set_prompt_hook([this](const QString& title, const QString&, const QString&) {
      prompts_ << title;
      return answer_;
    });
    window_->show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(window_.get()));
    window_->activateWindow();
    ASSERT_TRUE(QTest::qWaitForWindowActive(window_.get()));
  }
  void TearDown() override { window_.reset(); }

  BrowserModel& model() { return *window_->model(); }

  // Makes `name` under parent the current item (loading parent first).
  QModelIndex Go(const QModelIndex& parent, const QString& name) {
    QModelIndex i;
    const bool found = WaitFor([&] {
      i = model().childNamed(parent, name);
      if (!i.isValid() && model().outstanding() == 0 && model().canFetchMore(parent)) {
        model().fetchMore(parent);
      }
      return i.isValid();
    });
    EXPECT_TRUE(found) << "no row " << name.toStdString();
    if (found) window_->columns()->setCurrentIndex(i);
    return i;
  }
  int64_t TagCount(const QString& name) {
    return CountOf(model().childNamed(model().tagsIndex(), name));
  }
  std::vector<std::string> Listing(const std::string& dir) {
    std::vector<std::string> out;
    auto d = client_->ResolvePath(dir);
    if (!d.ok()) return out;
    auto entries = client_->ListDir(d->inode);
    if (entries.ok()) {
      for (const DirEntry& e : *entries) out.push_back(e.name);
    }
    return out;
  }

  std::unique_ptr<MainWindow> window_;
  QStringList prompts_;
  std::optional<QString> answer_;
};

TEST_F(ActionsTest, TagsEverySelectedDocumentOfTheColumnAtOnce) {
  QModelIndex bulk = Go(Go({}, "Tags"), "bulk");
  ASSERT_TRUE(LoadAll(model(), bulk));
  QAbstractItemView* column = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (column = window_->columns()->columnFor(bulk)) != nullptr; }));
  // Click the first, ctrl-click two more.
  const QModelIndex f0 = model().childNamed(bulk, "f00");
  const QModelIndex f1 = model().childNamed(bulk, "f01");
  const QModelIndex f5 = model().childNamed(bulk, "f05");
  QTest::mouseClick(column->viewport(), Qt::LeftButton, {}, column->visualRect(f0).center());
  QTest::mouseClick(column->viewport(), Qt::LeftButton, Qt::ControlModifier,
                    column->visualRect(f1).center());
  QTest::mouseClick(column->viewport(), Qt::LeftButton, Qt::ControlModifier,
                    column->visualRect(f5).center());
  ASSERT_EQ(window_->columns()->selectionModel()->selectedIndexes().size(), 4)
      << "bulk and three of its documents";
  answer_ = "batch=7 reviewed";
  window_->tagSelected(false);
  EXPECT_EQ(prompts_, QStringList{"Tag"});
  ASSERT_TRUE(WaitFor([&] { return TagCount("reviewed") == 3; })) << TagCount("reviewed");
  EXPECT_EQ(TagCount("batch"), 3);
  for (const char* f : {"/bulk/f00", "/bulk/f01", "/bulk/f05"}) {
    auto a = client_->ResolvePath(f);
    ASSERT_TRUE(a.ok());
    auto tags = client_->GetTags(a->inode);
    ASSERT_TRUE(tags.ok());
    EXPECT_EQ(*tags, (std::vector<Tag>{T("batch", "7"), T("bulk"), T("reviewed")})) << f;
  }
  // Untag them all again, and the undo puts the tags back.
  answer_ = "reviewed";
  window_->tagSelected(true);
  ASSERT_TRUE(WaitFor([&] {
    return !model().childNamed(model().tagsIndex(), "reviewed").isValid() ||
           TagCount("reviewed") == 0;
  }));
  window_->undoTagChange();
  EXPECT_TRUE(WaitFor([&] { return TagCount("reviewed") == 3; }));
}

// The view, not the test, asks for the next page as it scrolls to the end
// (a column that is not full asks at once: the window is made small).
TEST_F(ActionsTest, ScrollingAColumnToItsEndLoadsTheNextPage) {
  window_->resize(700, 180);
  model().set_page_size(5);
  QModelIndex bulk = Go(Go({}, "Tags"), "bulk");
  QAbstractItemView* column = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    column = window_->columns()->columnFor(bulk);
    return column && model().rowCount(bulk) > 0 && model().outstanding() == 0;
  }));
  QTest::qWait(300);
  auto documents = [&] {
    int n = 0;
    for (int r = 0; r < model().rowCount(bulk); ++r) {
      n += model().kindOf(model().index(r, 0, bulk)) == ModelNode::Kind::kDocument ? 1 : 0;
    }
    return n;
  };
  EXPECT_LT(documents(), 12) << "the whole column came without scrolling";
  EXPECT_TRUE(WaitFor([&] {
    column->scrollToBottom();
    return !model().canFetchMore(bulk) && model().outstanding() == 0;
  }));
  EXPECT_EQ(documents(), 12);
}

TEST_F(ActionsTest, DocumentsDroppedOnATagGetIt) {
  QModelIndex tags = Go({}, "Tags");
  ASSERT_TRUE(LoadAll(model(), tags));
  QModelIndex photos = Go(Go({}, "Folders"), "photos");
  ASSERT_TRUE(LoadAll(model(), photos));
  QModelIndexList dragged{model().childNamed(photos, "beach.jpg"),
                          model().childNamed(photos, "city.jpg")};
  std::unique_ptr<QMimeData> mime(model().mimeData(dragged));
  const QModelIndex pet = model().childNamed(tags, "pet");
  ASSERT_EQ(CountOf(pet), 1);
  ASSERT_TRUE(model().canDropMimeData(mime.get(), Qt::CopyAction, -1, -1, pet));
  EXPECT_FALSE(model().canDropMimeData(mime.get(), Qt::CopyAction, -1, -1, photos));
  ASSERT_TRUE(model().dropMimeData(mime.get(), Qt::CopyAction, -1, -1, pet));
  EXPECT_TRUE(WaitFor([&] { return TagCount("pet") == 3; })) << TagCount("pet");
  window_->undoTagChange();
  EXPECT_TRUE(WaitFor([&] { return TagCount("pet") == 1; }));
}

TEST_F(ActionsTest, AddsLocalFilesWithProgressAndStopsOnCancel) {
  QTemporaryDir local;
  ASSERT_TRUE(local.isValid());
  QDir(local.path()).mkpath("trip/day1");
  for (const char* f : {"trip/a.txt", "trip/day1/b.txt"}) {
    QFile file(local.filePath(f));
    ASSERT_TRUE(file.open(QIODevice::WriteOnly));
    file.write(QByteArray("hello ") + f);
  }
  QModelIndex photos = Go(Go({}, "Folders"), "photos");
  ASSERT_TRUE(LoadAll(model(), photos));
  window_->addLocal({local.filePath("trip")}, "/photos");
  ASSERT_TRUE(WaitFor([&] { return model().childNamed(photos, "trip").isValid(); }))
      << window_->statusBar()->currentMessage().toStdString();
  EXPECT_EQ(Listing("/photos/trip"), (std::vector<std::string>{"a.txt", "day1"}));
  EXPECT_EQ(Listing("/photos/trip/day1"), (std::vector<std::string>{"b.txt"}));
  EXPECT_TRUE(window_->statusBar()->currentMessage().contains("Added 2 file(s) to /photos"))
      << window_->statusBar()->currentMessage().toStdString();

  // Files dropped from the desktop on a folder row go into that folder.
  QFile dropped(local.filePath("dropped.txt"));
  ASSERT_TRUE(dropped.open(QIODevice::WriteOnly));
  dropped.write("from the desktop");
  dropped.close();
  QMimeData urls;
  urls.setUrls({QUrl::fromLocalFile(local.filePath("dropped.txt"))});
  const QModelIndex trip = model().childNamed(photos, "trip");
  ASSERT_TRUE(model().canDropMimeData(&urls, Qt::CopyAction, -1, -1, trip));
  EXPECT_FALSE(model().canDropMimeData(&urls, Qt::CopyAction, -1, -1, model().tagsIndex()));
  ASSERT_TRUE(model().dropMimeData(&urls, Qt::CopyAction, -1, -1, trip));
  EXPECT_TRUE(WaitFor([&] { return client_->ResolvePath("/photos/trip/dropped.txt").ok(); }));

  // Many files; cancel once the first ones are there.
  QDir(local.path()).mkpath("many");
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) {
    QFile file(local.filePath(QString("many/%1.txt").arg(i, 3, 10, QChar('0'))));
    ASSERT_TRUE(file.open(QIODevice::WriteOnly));
    file.write("x");
  }
  window_->addLocal({local.filePath("many")}, "/");
  QProgressDialog* dialog = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    dialog = window_->findChild<QProgressDialog*>("transferProgress");
    return dialog && Listing("/many").size() >= 3;
  }));
  dialog->findChild<QPushButton*>()->click();  // the dialog's Cancel
  ASSERT_TRUE(WaitFor([&] {
    return window_->statusBar()->currentMessage().startsWith("Cancelled after adding");
  })) << window_->statusBar()->currentMessage().toStdString();
  const size_t added = Listing("/many").size();
  EXPECT_GE(added, 3u);
  EXPECT_LT(added, static_cast<size_t>(kFiles));
}

TEST_F(ActionsTest, RenamesMovesAndGoesToAPath) {
  ASSERT_TRUE(client_->Mkdir(kRootInode, "archive", 0755).ok());
  QModelIndex ratings = Go(Go({}, "Folders"), "ratings");
  ASSERT_TRUE(LoadAll(model(), ratings));
  Go(ratings, "r100");
  answer_ = "r100-best";
  QTest::keyClick(window_->columns()->columnFor(ratings), Qt::Key_F2);
  ASSERT_EQ(prompts_, QStringList{"Rename"});
  EXPECT_TRUE(WaitFor([&] { return model().childNamed(ratings, "r100-best").isValid(); }));
  EXPECT_TRUE(client_->ResolvePath("/ratings/r100-best").ok());

  Go(ratings, "r100-best");
  answer_ = "/archive";
  window_->moveSelected();
  EXPECT_TRUE(WaitFor([&] { return client_->ResolvePath("/archive/r100-best").ok(); }));
  EXPECT_TRUE(WaitFor([&] {
    return model().outstanding() == 0 && !model().childNamed(ratings, "r100-best").isValid();
  }));
  // Tags stay with the document.
  auto moved = client_->ResolvePath("/archive/r100-best");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*client_->GetTags(moved->inode), (std::vector<Tag>{T("rating", "100")}));

  window_->goToPath("/archive/r100-best");
  EXPECT_TRUE(WaitFor([&] {
    return window_->columns()->currentIndex().data(BrowserModel::PathRole).toString() ==
           "/archive/r100-best";
  }));
}

TEST_F(ActionsTest, DetailsPreviewImagesPdfsAndText) {
  QImage image(40, 30, QImage::Format_RGB32);
  image.fill(Qt::blue);
  QByteArray png;
  QBuffer buffer(&png);
  buffer.open(QIODevice::WriteOnly);
  ASSERT_TRUE(image.save(&buffer, "PNG"));
  ASSERT_TRUE(PutTagged(*client_, "/photos/blue.png", png.toStdString(), {T("photo")}).ok());
  QModelIndex photos = Go(Go({}, "Folders"), "photos");
  ASSERT_TRUE(LoadAll(model(), photos));
  Go(photos, "blue.png");
  ASSERT_TRUE(WaitFor([&] {
    return window_->details()->inode() != 0 && !window_->details()->loading() &&
           window_->details()->previewKind() == "image";
  })) << window_->details()->previewKind().toStdString();
  // Regression: chips added after the pane was laid out kept their
  // default geometry (on top of each other) until something resized it.
  auto chips_laid_out = [&] {
    for (QToolButton* chip : window_->details()->findChildren<QToolButton*>("chip")) {
      if (chip->size() != chip->sizeHint()) return false;
    }
    return true;
  };
  EXPECT_TRUE(WaitFor(chips_laid_out));
  QModelIndex docs = Go(Go({}, "Folders"), "docs");
  ASSERT_TRUE(LoadAll(model(), docs));
  Go(docs, "report.txt");
  EXPECT_TRUE(WaitFor([&] {
    return !window_->details()->loading() && window_->details()->previewKind() == "text";
  }));
  // A PDF's first page.
  QTemporaryDir local;
  const QString pdf_path = local.filePath("one.pdf");
  {
    QPdfWriter writer(pdf_path);
    QPainter p(&writer);
    p.drawText(100, 100, "page one");
    writer.newPage();
    p.drawText(100, 100, "page two");
  }
  QFile pdf(pdf_path);
  ASSERT_TRUE(pdf.open(QIODevice::ReadOnly));
  ASSERT_TRUE(PutTagged(*client_, "/docs/one.pdf", pdf.readAll().toStdString(), {}).ok());
  model().reload(docs);
  ASSERT_TRUE(LoadAll(model(), docs));
  Go(docs, "one.pdf");
  EXPECT_TRUE(WaitFor([&] {
    return !window_->details()->loading() && window_->details()->previewKind() == "pdf";
  })) << window_->details()->previewKind().toStdString();
  Go(docs, "report.txt");
  ASSERT_TRUE(WaitFor([&] {
    return !window_->details()->loading() && window_->details()->previewKind() == "text";
  }));
  EXPECT_EQ(window_->details()->chipTexts(), (QStringList{"doc", "year=2021"}));
  EXPECT_TRUE(WaitFor(chips_laid_out));
  // Replica health: n of goal.
  EXPECT_TRUE(window_->details()->findChild<QLabel*>("facts")->text().contains("Replicas: 2 of 2"))
      << window_->details()->findChild<QLabel*>("facts")->text().toStdString();
}

// Replica health in the details pane, on a cluster whose repair is off so
// that a lost replica stays lost.
class HealthTest : public GuiClusterTest<HealthTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions o;
    o.metaserver_args = {"--repair-interval-ms", "0"};
    return o;
  }
};

TEST_F(HealthTest, DetailsCountOnlyLiveCurrentReplicasAgainstTheGoal) {
  MainWindow window(BrowserOptions());
  window.show();
  ASSERT_TRUE(QTest::qWaitForWindowExposed(&window));
  auto facts = [&] { return window.details()->findChild<QLabel*>("facts")->text(); };
  window.goToPath("/docs/report.txt");
  ASSERT_TRUE(WaitFor([&] { return facts().contains("Replicas: 2 of 2"); }))
      << facts().toStdString();

  auto attr = client_->ResolvePath("/docs/report.txt");
  ASSERT_TRUE(attr.ok());
  auto chunks = client_->Chunks(attr->inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  const int victim = ddbfs::testing::IndexOfServer(*cluster_, (*chunks)[0].replicas[0].server_id);
  ASSERT_GE(victim, 0);
  cluster_->KillChunkServer(victim);
  ASSERT_TRUE(cluster_->WaitForAliveServers(2, 20000));
  window.details()->reload();
  EXPECT_TRUE(WaitFor([&] { return facts().contains("Replicas: 1 of 2"); }))
      << facts().toStdString();
  cluster_->StartChunkServer(victim);
}

}  // namespace
}  // namespace ddbfs::gui::testing
