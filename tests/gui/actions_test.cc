// The main window's actions on several documents and on local files:
// tagging a multi-selection, dropping documents on a tag, adding files with
// progress (and cancelling), renaming, moving, going to a path, and the
// details pane's previews.

#include <QAbstractItemView>
#include <QAction>
#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
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
#include <QTimer>
#include <QToolButton>
#include <QUrl>

#include <sys/time.h>

#include "column_view.h"
#include "details_pane.h"
#include "drag_mime.h"
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

// Dragging documents out offers text/uri-list of local copies, made only
// when a drop target asks for that format.
TEST_F(ActionsTest, DragOutCopiesTheDocumentsOnlyWhenAskedForFiles) {
  for (const char* dir : {"dragA", "dragB"})
    ASSERT_TRUE(client_->Mkdir(kRootInode, dir, 0755).ok());
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  ASSERT_TRUE(PutTagged(*client_, "/dragA/same.bin", big, {}).ok());
  ASSERT_TRUE(PutTagged(*client_, "/dragB/same.bin", "the other one\n", {}).ok());
  ASSERT_TRUE(client_->Symlink(client_->ResolvePath("/dragB")->inode, "link", "same.bin").ok());
  QModelIndex folders = Go({}, "Folders");
  QModelIndex a = Go(folders, "dragA");
  ASSERT_TRUE(LoadAll(model(), a));
  QModelIndex b = Go(folders, "dragB");
  ASSERT_TRUE(LoadAll(model(), b));
  const QModelIndex doc_a = model().childNamed(a, "same.bin");
  const QModelIndex doc_b = model().childNamed(b, "same.bin");
  const QDir cache(DragMimeData::CacheFolder());
  auto copies_in_cache = [&] { return cache.entryList(QDir::Dirs | QDir::NoDotAndDotDot).size(); };
  const qsizetype before = copies_in_cache();

  std::unique_ptr<QMimeData> mime(model().mimeData({doc_a, doc_b}));
  auto* drag = qobject_cast<DragMimeData*>(mime.get());
  ASSERT_NE(drag, nullptr);
  EXPECT_TRUE(mime->hasUrls());
  EXPECT_TRUE(mime->formats().contains(BrowserModel::kInodesMime));
  // The browser's own format (dropping on a tag) copies nothing.
  EXPECT_EQ(mime->data(BrowserModel::kInodesMime),
            QByteArray::number(doc_a.data(BrowserModel::InodeRole).toLongLong()) + "\n" +
                QByteArray::number(doc_b.data(BrowserModel::InodeRole).toLongLong()));
  EXPECT_EQ(drag->copies(), 0);
  EXPECT_EQ(copies_in_cache(), before);

  // The copy runs off the GUI thread: events are handled meanwhile, and the
  // progress dialog is up.
  bool events_during_copy = false;
  bool dialog_during_copy = false;
  QTimer::singleShot(0, window_.get(), [&] {
    events_during_copy = true;
    dialog_during_copy = window_->findChild<QProgressDialog*>("transferProgress") != nullptr;
  });
  const QList<QByteArray> lines = mime->data("text/uri-list").split('\n');
  EXPECT_EQ(drag->copies(), 1);
  EXPECT_TRUE(events_during_copy);
  EXPECT_TRUE(dialog_during_copy);
  QStringList files;
  for (const QByteArray& l : lines) {
    if (!l.trimmed().isEmpty()) files << QUrl::fromEncoded(l.trimmed()).toLocalFile();
  }
  ASSERT_EQ(files.size(), 2) << lines.join("|").toStdString();
  EXPECT_TRUE(files[0].startsWith(DragMimeData::CacheFolder() + "/")) << files[0].toStdString();
  // Same name from two folders: distinct local names.
  EXPECT_EQ(QFileInfo(files[0]).fileName(), "same.bin");
  EXPECT_EQ(QFileInfo(files[1]).fileName(), "same (2).bin");
  auto read = [](const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll().toStdString() : std::string("(unreadable)");
  };
  EXPECT_TRUE(read(files[0]) == big);
  EXPECT_EQ(read(files[1]), "the other one\n");
  // Asked again (as QMimeData::urls() does): the same copies, not new ones.
  ASSERT_EQ(mime->urls().size(), 2);
  EXPECT_EQ(mime->urls()[1].toLocalFile(), files[1]);
  EXPECT_EQ(drag->copies(), 1);
  EXPECT_EQ(copies_in_cache(), before + 1);

  // A folder comes with everything in it.
  std::unique_ptr<QMimeData> folder(model().mimeData({b}));
  ASSERT_EQ(folder->urls().size(), 1);
  const QString local_b = folder->urls()[0].toLocalFile();
  EXPECT_TRUE(QFileInfo(local_b).isDir());
  EXPECT_EQ(read(local_b + "/same.bin"), "the other one\n");
  EXPECT_EQ(QFileInfo(local_b + "/link").symLinkTarget(), local_b + "/same.bin");
  // Dropped back on the browser's window or on a folder row, a drag out is
  // not taken for local files.
  EXPECT_FALSE(model().canDropMimeData(folder.get(), Qt::CopyAction, -1, -1, a));
  QDir(drag->folder()).removeRecursively();
  QDir(qobject_cast<DragMimeData*>(folder.get())->folder()).removeRecursively();
}

// Cancel in the progress dialog: the drop gets no files, and the partial
// copy is gone.
TEST_F(ActionsTest, CancelledDragCopyGivesNoFilesAndLeavesNothing) {
  QModelIndex photos = Go(Go({}, "Folders"), "photos");
  ASSERT_TRUE(LoadAll(model(), photos));
  std::shared_ptr<TransferProgress> seen;
  bool ended = false;
  model().set_drag_progress_hook([&](std::shared_ptr<TransferProgress> progress,
                                     const QString&) -> std::function<void(const Status&, bool)> {
    seen = progress;
    progress->cancel = true;  // as the dialog's Cancel does
    return [&](const Status& s, bool cancelled) {
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_TRUE(cancelled);
      ended = true;
    };
  });
  std::unique_ptr<QMimeData> mime(model().mimeData({photos}));
  EXPECT_TRUE(mime->data("text/uri-list").isEmpty());
  EXPECT_TRUE(mime->urls().isEmpty());
  ASSERT_NE(seen, nullptr);
  EXPECT_TRUE(ended);
  const QString folder = qobject_cast<DragMimeData*>(mime.get())->folder();
  ASSERT_FALSE(folder.isEmpty());
  EXPECT_FALSE(QFileInfo::exists(folder));
}

// At start-up the browser removes the copies of drags older than a day.
TEST(DragCacheTest, RemovesOnlyCopiesOlderThanADay) {
  const QDir cache(DragMimeData::CacheFolder());
  ASSERT_TRUE(cache.mkpath("old/inside") && cache.mkpath("recent"));
  const QByteArray old = cache.filePath("old").toLocal8Bit();
  struct timeval two_days_ago[2];
  gettimeofday(&two_days_ago[0], nullptr);
  two_days_ago[0].tv_sec -= 2 * 24 * 3600;
  two_days_ago[1] = two_days_ago[0];
  ASSERT_EQ(utimes(old.constData(), two_days_ago), 0);
  EXPECT_GE(DragMimeData::CleanCache(), 1);
  EXPECT_FALSE(cache.exists("old"));
  EXPECT_TRUE(cache.exists("recent"));
  QDir(cache.filePath("recent")).removeRecursively();
}

// Undo and redo of tag changes, several steps deep, each taking the
// documents exactly back (a document that had the tag keeps it).
TEST_F(ActionsTest, UndoAndRedoTagChangesStepByStep) {
  ASSERT_TRUE(client_->Mkdir(kRootInode, "undo", 0755).ok());
  std::vector<InodeId> u;
  for (const char* f : {"/undo/u1", "/undo/u2", "/undo/u3"}) {
    auto a = PutTagged(*client_, f, "",
                       std::string(f) == "/undo/u2" ? std::vector<Tag>{T("ux"), T("keep")}
                                                    : std::vector<Tag>{T("keep")});
    ASSERT_TRUE(a.ok());
    u.push_back(a->inode);
  }
  auto tags_of = [&](InodeId i) {
    auto tags = client_->GetTags(i);
    if (!tags.ok()) return tags.status().ToString();
    std::string out;
    for (const Tag& t : tags.value()) out += TagText(t) + " ";
    return out;
  };
  auto state = [&] { return tags_of(u[0]) + "| " + tags_of(u[1]) + "| " + tags_of(u[2]); };
  const std::string start = "keep | keep ux | keep ";
  ASSERT_EQ(state(), start);

  window_->applyTagChange(u, {T("ux")}, {}, true);
  ASSERT_TRUE(WaitFor([&] { return window_->undoSteps() == 1; }));
  EXPECT_EQ(state(), "keep ux | keep ux | keep ux ");
  EXPECT_EQ(window_->undoAction()->text(), "&Undo add tag 'ux' to 3 documents");
  EXPECT_FALSE(window_->redoAction()->isEnabled());
  window_->undoTagChange();
  ASSERT_TRUE(WaitFor([&] { return window_->redoSteps() == 1 && model().outstanding() == 0; }));
  EXPECT_EQ(state(), start) << "only the two that gained ux lose it";
  EXPECT_EQ(window_->redoAction()->text(), "&Redo add tag 'ux' to 3 documents");
  window_->redoTagChange();
  ASSERT_TRUE(WaitFor([&] { return window_->undoSteps() == 1; }));
  EXPECT_EQ(state(), "keep ux | keep ux | keep ux ");

  // A second change (a chip's removal), undone twice, redone once.
  window_->applyTagChange({u[1]}, {}, {T("keep")}, true);
  ASSERT_TRUE(WaitFor([&] { return window_->undoSteps() == 2; }));
  EXPECT_EQ(window_->undoAction()->text(), "&Undo remove tag 'keep' from 1 document");
  EXPECT_EQ(state(), "keep ux | ux | keep ux ");
  window_->undoTagChange();
  ASSERT_TRUE(WaitFor([&] { return window_->redoSteps() == 1; }));
  window_->undoTagChange();
  ASSERT_TRUE(WaitFor([&] { return window_->redoSteps() == 2; }));
  EXPECT_EQ(state(), start);
  window_->columns()->setFocus();  // not a line edit, which has its own Ctrl+Z
  QTest::keyClick(window_.get(), Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
  // (A step leaves its stack at once and reaches the other one when done.)
  ASSERT_TRUE(WaitFor([&] { return window_->redoSteps() == 1 && window_->undoSteps() == 1; }));
  EXPECT_EQ(state(), "keep ux | keep ux | keep ux ");
  EXPECT_EQ(window_->redoAction()->text(), "&Redo remove tag 'keep' from 1 document");

  // More than 20 steps deep; a new change drops what could be redone.
  constexpr int kSteps = 21;
  for (int i = 0; i < kSteps; ++i) {
    window_->applyTagChange({u[2]}, {T("step" + std::to_string(i))}, {}, true);
    ASSERT_TRUE(WaitFor([&] { return window_->undoSteps() == 2u + i; }));
  }
  EXPECT_EQ(window_->redoSteps(), 0u);
  for (int i = 0; i < kSteps + 1; ++i) {
    QTest::keyClick(window_.get(), Qt::Key_Z, Qt::ControlModifier);
    ASSERT_TRUE(WaitFor([&] { return window_->redoSteps() == 1u + i; }));
  }
  EXPECT_EQ(state(), start);
  QTest::keyClick(window_.get(), Qt::Key_Y, Qt::ControlModifier);  // redo, too
  ASSERT_TRUE(WaitFor([&] { return window_->undoSteps() == 1; }));
  EXPECT_EQ(state(), "keep ux | keep ux | keep ux ");
  // Connecting (again, or to another cluster) forgets the steps.
  window_->connectTo(window_->backend()->address());
  EXPECT_EQ(window_->undoSteps() + window_->redoSteps(), 0u);
  EXPECT_FALSE(window_->undoAction()->isEnabled());
  EXPECT_EQ(window_->undoAction()->text(), "&Undo");
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
