#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressDialog>
#include <QSettings>
#include <QStatusBar>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>
#include <set>

#include "column_view.h"
#include "details_pane.h"
#include "drag_mime.h"
#include "search_bar.h"
#include "transfer.h"

namespace ddbfs::gui {

namespace {

using Kind = ModelNode::Kind;

constexpr int kDefaultStatusMs = 5000;
constexpr int kDefaultRefreshMs = 5000;
// A refresh tick that finds the user busy tries again this much later.
constexpr int kRefreshRetryMs = 200;

QString ParentPath(const QString& path) {
  const int slash = static_cast<int>(path.lastIndexOf('/'));
  return slash <= 0 ? QStringLiteral("/") : path.left(slash);
}

QString Q(const std::string& s) { return QString::fromStdString(s); }

QString TagList(const std::vector<Tag>& tags) {
  QStringList out;
  for (const Tag& t : tags) out << QStringLiteral("'%1'").arg(Q(TagText(t)));
  return out.join(", ");
}

// What a tag change does, for the Edit menu: "add tag 'x' to 3 documents".
QString DescribeTagChange(const std::vector<Tag>& add, const std::vector<Tag>& remove,
                          size_t documents) {
  const QString docs =
      documents == 1 ? QObject::tr("1 document") : QObject::tr("%1 documents").arg(documents);
  if (remove.empty()) {
    return (add.size() == 1 ? QObject::tr("add tag %1 to %2") : QObject::tr("add tags %1 to %2"))
        .arg(TagList(add), docs);
  }
  if (add.empty()) {
    return (remove.size() == 1 ? QObject::tr("remove tag %1 from %2")
                               : QObject::tr("remove tags %1 from %2"))
        .arg(TagList(remove), docs);
  }
  return QObject::tr("change the tags of %1").arg(docs);
}

}  // namespace

MainWindow::MainWindow(ClientOptions options, QWidget* parent)
    : QMainWindow(parent), options_(std::move(options)) {
  setAcceptDrops(true);
  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  banner_ = new QLabel;
  banner_->setObjectName("banner");
  banner_->setWordWrap(true);
  banner_->setStyleSheet("background: #fff3cd; color: #664d03; padding: 6px;");
  banner_->hide();
  search_ = new SearchBar(&tag_names_);
  view_ = new ColumnView;
  details_ = new DetailsPane(nullptr, &tag_names_);
  layout->addWidget(banner_);
  layout->addWidget(search_);
  layout->addWidget(view_, 1);
  setCentralWidget(central);
  status_ = new QLabel;
  status_->setObjectName("clusterStatus");
  statusBar()->addPermanentWidget(status_);
  status_timer_ = new QTimer(this);
  status_timer_->setInterval(kDefaultStatusMs);
  connect(status_timer_, &QTimer::timeout, this, &MainWindow::PollStatus);
  refresh_timer_ = new QTimer(this);
  connect(refresh_timer_, &QTimer::timeout, this, &MainWindow::LiveRefresh);
  // Copies of earlier drags out of the browser, left in the cache.
  DragMimeData::CleanCache();

  connect(search_, &SearchBar::searchRequested, this, &MainWindow::runSearch);
  connect(search_, &SearchBar::saveRequested, this, [this](const QString& q) {
    auto name = Prompt(tr("Save query"), tr("Name of the saved query:"));
    if (!name || name->trimmed().isEmpty()) return;
    const std::string n = name->trimmed().toStdString();
    const std::string expr = q.toStdString();
    backend_->Run<bool>(
        this,
        [n, expr](Client& c) -> Result<bool> {
          RETURN_IF_ERROR(c.SaveQuery(n, expr));
          return true;
        },
        [this, n](Result<bool> r) {
          if (!r.ok()) return Report(tr("save query"), r.status());
          statusBar()->showMessage(tr("Saved the query %1").arg(Q(n)), 5000);
          model_->reload(model_->queriesIndex());
        });
  });
  connect(details_, &DetailsPane::addTagRequested, this,
          [this](InodeId inode, const QString& text) {
            std::vector<Tag> tags;
            for (const QString& word : text.split(' ', Qt::SkipEmptyParts)) {
              auto t = ParseTag(word.toStdString());
              if (!t.ok()) return Report(tr("tag"), t.status());
              tags.push_back(*t);
            }
            if (!tags.empty()) applyTagChange({inode}, tags, {}, true);
          });
  connect(details_, &DetailsPane::removeTagRequested, this,
          [this](InodeId inode, const Tag& tag) { applyTagChange({inode}, {}, {tag}, true); });
  connect(view_, &ColumnView::contextMenuRequestedAt, this, &MainWindow::ShowContextMenu);
  // Enter or a double click opens a document (not `activated`: some styles
  // activate on a single click).
  connect(view_, &ColumnView::openRequested, this, [this](const QModelIndex& i) {
    if (model_->kindOf(i) == Kind::kDocument) openCurrent();
  });

  BuildActions();
  Attach(options_);
  view_->setPreviewWidget(details_);
  RestoreSettings();
  status_timer_->start();
  bool env_ok = false;
  const int env_ms = qEnvironmentVariableIntValue("DDBFS_BROWSER_REFRESH_MS", &env_ok);
  set_refresh_interval_ms(
      env_ok ? env_ms : QSettings().value("refresh/interval_ms", kDefaultRefreshMs).toInt());
}

MainWindow::~MainWindow() {
  // The view must not outlive its model's signals, nor the backend its work.
  view_->setModel(nullptr);
  model_.reset();
  if (backend_) backend_->WaitIdle();
}

void MainWindow::Attach(ClientOptions options) {
  options_ = std::move(options);
  auto backend = std::make_unique<Backend>(options_);
  auto model = std::make_unique<BrowserModel>(backend.get());
  view_->setModel(model.get());
  details_->setBackend(backend.get());
  details_->showDocument(0, {});
  // The old ones go after the view let go of them; the backend waits for
  // its running work (queued answers to it are dropped with it).
  model_ = std::move(model);
  if (backend_) backend_->WaitIdle();
  backend_ = std::move(backend);
  // Tag changes of another cluster cannot be undone here; the answer of an
  // undo still running went with the old backend.
  undo_steps_.clear();
  redo_steps_.clear();
  stepping_ = false;
  UpdateUndoActions();
  setWindowTitle(tr("DDBFS Browser — %1").arg(Q(options_.meta_address)));

  connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this,
          [this](const QModelIndex& current) { OnCurrentChanged(current); });
  connect(model_.get(), &BrowserModel::tagDropRequested, this,
          [this](const std::vector<InodeId>& inodes, const Tag& tag) {
            applyTagChange(inodes, {tag}, {}, true);
          });
  connect(model_.get(), &BrowserModel::filesDropRequested, this, &MainWindow::addLocal);
  model_->set_drag_progress_hook(
      [this](std::shared_ptr<TransferProgress> progress,
             const QString& what) -> std::function<void(const Status&, bool)> {
        QPointer<QProgressDialog> dialog = ProgressDialog(progress, what);
        QPointer<MainWindow> self(this);
        return [self, dialog](const Status& s, bool cancelled) {
          CloseProgress(dialog);
          if (!self) return;
          // In the status bar only: a message box would wait inside the drop.
          if (!s.ok()) {
            self->statusBar()->showMessage(tr("drag out: %1").arg(Q(s.ToString())), 15000);
          } else if (cancelled) {
            self->statusBar()->showMessage(tr("Cancelled the copy of the drag"), 5000);
          }
        };
      });
  connect(model_.get(), &BrowserModel::loadFailed, this, [this](const QString& message) {
    if (backend_->connected()) statusBar()->showMessage(message, 10000);
    navigate_rest_.clear();
  });
  connect(model_.get(), &BrowserModel::pageLoaded, this, [this]() {
    if (!navigate_rest_.isEmpty()) NavigateStep();
  });
  connect(backend_.get(), &Backend::connectionLost, this, [this](const QString& message) {
    banner_->setText(tr("Lost the connection to the metaserver at %1 (%2). Reconnecting… "
                        "Your place is kept.")
                         .arg(backend_->address(), message));
    banner_->show();
    status_->setText(tr("disconnected"));
  });
  connect(backend_.get(), &Backend::connectionRestored, this, [this]() {
    banner_->hide();
    statusBar()->showMessage(tr("Reconnected to %1").arg(backend_->address()), 5000);
    model_->retryFailed();
    model_->refreshCounts(view_->currentIndex());
    details_->reload();
    PollStatus();
    LoadTagNames();
  });
  PollStatus();
  LoadTagNames();
}

void MainWindow::BuildActions() {
  auto add = [this](QMenu* menu, const QString& text, QKeySequence key, auto slot) {
    QAction* a = menu->addAction(text);
    if (!key.isEmpty()) a->setShortcut(key);
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  QMenu* file = menuBar()->addMenu(tr("&File"));
  add(file, tr("Add &files…"), QKeySequence::Open, [this]() {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add files"));
    if (!files.isEmpty()) addLocal(files, CurrentFolder());
  });
  add(file, tr("Add a f&older…"), QKeySequence(), [this]() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add a folder"));
    if (!dir.isEmpty()) addLocal({dir}, CurrentFolder());
  });
  add(file, tr("&Open with the default application"), QKeySequence(), [this]() { openCurrent(); });
  add(file, tr("&Save a copy…"), QKeySequence::Save, [this]() { saveCopyOfCurrent(); });
  file->addSeparator();
  add(file, tr("&Connect to…"), QKeySequence(), [this]() {
    QSettings s;
    auto meta = Prompt(tr("Connect"), tr("Metaserver (HOST:PORT or unix:/path):"),
                       s.value("cluster/last", Q(options_.meta_address)).toString());
    if (meta && !meta->trimmed().isEmpty()) connectTo(meta->trimmed());
  });
  add(file, tr("&Quit"), QKeySequence::Quit, [this]() { close(); });

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  undo_ = add(edit, tr("&Undo"), QKeySequence::Undo, [this]() { undoTagChange(); });
  redo_ = add(edit, tr("&Redo"), QKeySequence(), [this]() { redoTagChange(); });
  redo_->setShortcuts({QKeySequence(tr("Ctrl+Shift+Z")), QKeySequence(tr("Ctrl+Y"))});
  UpdateUndoActions();
  edit->addSeparator();
  add(edit, tr("&Tag…"), QKeySequence(tr("Ctrl+T")), [this]() { tagSelected(false); });
  add(edit, tr("U&ntag…"), QKeySequence(tr("Ctrl+Shift+T")), [this]() { tagSelected(true); });
  add(edit, tr("&Rename…"), QKeySequence(Qt::Key_F2), [this]() { renameCurrent(); });
  add(edit, tr("&Move to…"), QKeySequence(tr("Ctrl+M")), [this]() { moveSelected(); });
  add(edit, tr("&Delete"), QKeySequence::Delete, [this]() { deleteSelected(); });
  edit->addSeparator();
  add(edit, tr("&Find (query)"), QKeySequence::Find, [this]() {
    search_->field()->setFocus();
    search_->field()->selectAll();
  });
  add(edit, tr("&Go to path…"), QKeySequence(tr("Ctrl+L")), [this]() {
    auto path = Prompt(tr("Go to path"), tr("Path in the cluster:"), CurrentFolder());
    if (path) goToPath(*path);
  });
  QMenu* view = menuBar()->addMenu(tr("&View"));
  add(view, tr("&Refresh"), QKeySequence::Refresh, [this]() { refresh(); });
}

// ---- small helpers

void MainWindow::set_status_interval_ms(int ms) { status_timer_->setInterval(ms); }

void MainWindow::set_refresh_interval_ms(int ms) {
  refresh_timer_->stop();
  if (ms <= 0) return;
  refresh_timer_->setInterval(ms);
  refresh_timer_->start();
}

int MainWindow::refresh_interval_ms() const {
  return refresh_timer_->isActive() ? refresh_timer_->interval() : 0;
}

void MainWindow::LiveRefresh() {
  if (!backend_->connected()) return;  // the reconnect refreshes
  // Never under the user's hands: a drag (out of the browser or inside it),
  // a pressed button, a tag being typed, or any request still out.
  const bool busy = model_->dragging() || QApplication::mouseButtons() != Qt::NoButton ||
                    !details_->addTagField()->text().isEmpty() || model_->outstanding() > 0 ||
                    backend_->pending() > 0;
  if (busy) {
    QTimer::singleShot(kRefreshRetryMs, this, [this]() {
      // Only if no regular tick comes first.
      if (refresh_timer_->isActive() && refresh_timer_->remainingTime() > kRefreshRetryMs) {
        LiveRefresh();
      }
    });
    return;
  }
  model_->refreshLive(view_->currentIndex());
}

bool MainWindow::Confirm(const QString& question) {
  if (confirm_hook_) return confirm_hook_(question);
  return QMessageBox::question(this, tr("DDBFS Browser"), question,
                               QMessageBox::Yes | QMessageBox::Cancel,
                               QMessageBox::Cancel) == QMessageBox::Yes;
}

std::optional<QString> MainWindow::Prompt(const QString& title, const QString& label,
                                          const QString& initial) {
  if (prompt_hook_) return prompt_hook_(title, label, initial);
  bool ok = false;
  const QString text = QInputDialog::getText(this, title, label, QLineEdit::Normal, initial, &ok);
  if (!ok) return std::nullopt;
  return text;
}

void MainWindow::Report(const QString& what, const Status& s) {
  const QString text = tr("%1: %2").arg(what, Q(s.ToString()));
  statusBar()->showMessage(text, 15000);
  // The banner tells about a lost connection; a window driven through the
  // test hooks shows failures in the status bar only (no modal box).
  if (s.code() != ErrorCode::kUnavailable && !confirm_hook_) {
    QMessageBox::warning(this, tr("DDBFS Browser"), text);
  }
}

std::vector<MainWindow::Selected> MainWindow::SelectedDocuments() const {
  std::vector<Selected> out;
  std::set<InodeId> seen;
  auto take = [&](const QModelIndex& i) {
    const Kind k = model_->kindOf(i);
    if (!i.isValid() || (k != Kind::kDocument && k != Kind::kFolder)) return;
    const InodeId inode = i.data(BrowserModel::InodeRole).toLongLong();
    if (!seen.insert(inode).second) return;
    out.push_back({inode, i.data(BrowserModel::PathRole).toString(), k == Kind::kFolder});
  };
  // Only the current column's: QColumnView keeps the rows chosen on the way
  // to it selected in the columns before.
  const QModelIndex current = view_->currentIndex();
  for (const QModelIndex& i : view_->selectionModel()->selectedIndexes()) {
    if (i.parent() == current.parent()) take(i);
  }
  if (out.empty()) take(current);
  return out;
}

QString MainWindow::CurrentFolder() const {
  QModelIndex i = view_->currentIndex();
  for (; i.isValid(); i = i.parent()) {
    const Kind k = model_->kindOf(i);
    if (k == Kind::kFolder || k == Kind::kFoldersCategory) {
      return i.data(BrowserModel::PathRole).toString();
    }
    if (k != Kind::kDocument) break;
  }
  return QStringLiteral("/");
}

void MainWindow::LoadTagNames() {
  backend_->RunPoll<std::vector<std::string>>(
      this,
      [](Client& c) -> Result<std::vector<std::string>> {
        std::vector<std::string> names;
        for (int offset = 0;;) {
          ASSIGN_OR_RETURN(Client::TagListPage page, c.ListTagNames(offset, 10000));
          for (TagCount& t : page.tags) names.push_back(std::move(t.name));
          offset += static_cast<int>(page.tags.size());
          if (!page.more || page.tags.empty()) return names;
        }
      },
      [this](Result<std::vector<std::string>> r) {
        if (!r.ok()) return;
        QStringList list;
        for (const std::string& n : *r) list << Q(n);
        tag_names_.setStringList(list);
      });
}

void MainWindow::PollStatus() {
  backend_->RunPoll<ClusterView>(
      this, [](Client& c) { return c.ClusterStatus(); },
      [this](Result<ClusterView> r) {
        if (!r.ok()) return;
        int alive = 0;
        uint64_t used = 0;
        uint64_t capacity = 0;
        for (const ServerView& s : r->servers) {
          alive += s.alive ? 1 : 0;
          used += s.used_bytes;
          capacity += s.capacity_bytes;
        }
        QLocale l;
        status_->setText(tr("%1 of %2 servers alive · %3 used of %4 · %5 chunks under goal")
                             .arg(alive)
                             .arg(r->servers.size())
                             .arg(l.formattedDataSize(static_cast<qint64>(used)),
                                  l.formattedDataSize(static_cast<qint64>(capacity)))
                             .arg(r->chunks_under_goal));
      });
}

// ---- navigation

void MainWindow::OnCurrentChanged(const QModelIndex& current) {
  if (!current.isValid()) return;
  const Kind k = model_->kindOf(current);
  if (k == Kind::kDocument) {
    details_->showDocument(current.data(BrowserModel::InodeRole).toLongLong(),
                           current.data(BrowserModel::PathRole).toString());
  } else if (model_->canFetchMore(current)) {
    model_->fetchMore(current);
  }
}

void MainWindow::runSearch(const QString& query) {
  search_->field()->setText(query);
  if (!search_->Check()) return;
  const QModelIndex s = model_->setSearch(query.toStdString());
  view_->setCurrentIndex(s);
  view_->setFocus();
}

void MainWindow::goToPath(const QString& path) {
  navigate_rest_ = path.split('/', Qt::SkipEmptyParts);
  navigate_at_ = model_->foldersIndex();
  view_->setCurrentIndex(navigate_at_);
  NavigateStep();
}

void MainWindow::NavigateStep() {
  while (!navigate_rest_.isEmpty()) {
    if (!navigate_at_.isValid()) {
      navigate_rest_.clear();
      return;
    }
    const QModelIndex child = model_->childNamed(navigate_at_, navigate_rest_.front());
    if (child.isValid()) {
      navigate_rest_.pop_front();
      navigate_at_ = child;
      view_->setCurrentIndex(child);
      continue;
    }
    if (model_->canFetchMore(navigate_at_)) {
      model_->fetchMore(navigate_at_);  // pageLoaded brings us back
      return;
    }
    statusBar()->showMessage(
        tr("No %1 in %2")
            .arg(navigate_rest_.front(), navigate_at_.data(BrowserModel::PathRole).toString()),
        10000);
    navigate_rest_.clear();
  }
}

void MainWindow::refresh() {
  QModelIndex i = view_->currentIndex();
  if (!i.isValid()) return;
  if (model_->kindOf(i) == Kind::kDocument) i = i.parent();
  model_->reload(i);
  details_->reload();
  PollStatus();
  LoadTagNames();
}

void MainWindow::connectTo(const QString& meta) {
  ClientOptions o = options_;
  o.meta_address = meta.toStdString();
  QSettings().setValue("cluster/last", meta);
  Attach(o);
}

// ---- tags

void MainWindow::tagSelected(bool remove) {
  const std::vector<Selected> docs = SelectedDocuments();
  if (docs.empty()) return;
  auto text = Prompt(remove ? tr("Untag") : tr("Tag"),
                     (remove ? tr("Tags to take off %n document(s):", "", int(docs.size()))
                             : tr("Tags to put on %n document(s):", "", int(docs.size()))));
  if (!text) return;
  std::vector<Tag> tags;
  for (const QString& word : text->split(' ', Qt::SkipEmptyParts)) {
    auto t = ParseTag(word.toStdString());
    if (!t.ok()) return Report(tr("tag"), t.status());
    tags.push_back(*t);
  }
  if (tags.empty()) return;
  std::vector<InodeId> inodes;
  for (const Selected& d : docs) inodes.push_back(d.inode);
  applyTagChange(inodes, remove ? std::vector<Tag>{} : tags, remove ? tags : std::vector<Tag>{},
                 true);
}

void MainWindow::applyTagChange(const std::vector<InodeId>& inodes, const std::vector<Tag>& add,
                                const std::vector<Tag>& remove, bool undoable) {
  const TagChange change{inodes, add, remove};
  const QString label = DescribeTagChange(add, remove, inodes.size());
  backend_->Run<AppliedTagChange>(
      this, [change](Client& c) { return ApplyTagChange(c, change); },
      [this, undoable, label](Result<AppliedTagChange> r) {
        if (!r.ok()) return Report(tr("tag"), r.status());
        if (undoable && !r->undo.empty()) {
          undo_steps_.push_back({label, std::move(r->undo), std::move(r->redo)});
          if (undo_steps_.size() > kUndoDepth) undo_steps_.erase(undo_steps_.begin());
          redo_steps_.clear();
          UpdateUndoActions();
        }
        AfterTagChange(tr("Changed the tags of %n document(s)", "", r->changed));
      });
}

void MainWindow::undoTagChange() { StepTagChange(false); }
void MainWindow::redoTagChange() { StepTagChange(true); }

void MainWindow::StepTagChange(bool redo) {
  std::vector<TagStep>& from = redo ? redo_steps_ : undo_steps_;
  if (stepping_ || from.empty()) return;
  TagStep step = std::move(from.back());
  from.pop_back();
  stepping_ = true;
  UpdateUndoActions();
  const std::vector<TagChange> changes = redo ? step.redo : step.undo;
  backend_->Run<int>(
      this, [changes](Client& c) { return ApplyTagChanges(c, changes); },
      [this, redo, step = std::move(step)](Result<int> r) mutable {
        stepping_ = false;
        const QString label = step.label;
        // Done: the step moves to the other stack; failed: it stays where it
        // was, to be tried again.
        (r.ok() == redo ? undo_steps_ : redo_steps_).push_back(std::move(step));
        UpdateUndoActions();
        if (!r.ok()) return Report(redo ? tr("redo") : tr("undo"), r.status());
        AfterTagChange(redo ? tr("Redid: %1").arg(label) : tr("Undid: %1").arg(label));
      });
}

void MainWindow::UpdateUndoActions() {
  undo_->setEnabled(!stepping_ && !undo_steps_.empty());
  redo_->setEnabled(!stepping_ && !redo_steps_.empty());
  undo_->setText(undo_steps_.empty() ? tr("&Undo") : tr("&Undo %1").arg(undo_steps_.back().label));
  redo_->setText(redo_steps_.empty() ? tr("&Redo") : tr("&Redo %1").arg(redo_steps_.back().label));
}

void MainWindow::AfterTagChange(const QString& message) {
  statusBar()->showMessage(message, 5000);
  model_->refreshCounts(view_->currentIndex());
  details_->reload();
  LoadTagNames();
}

// ---- namespace changes

void MainWindow::AfterNamespaceChange(const QModelIndex& column) {
  if (column.isValid()) model_->reload(column);
  model_->refreshCounts(column);
  PollStatus();
}

void MainWindow::deleteSelected() {
  const std::vector<Selected> docs = SelectedDocuments();
  if (docs.empty()) return;
  QStringList names;
  int folders = 0;
  for (const Selected& d : docs) {
    names << d.path + (d.folder ? "/" : "");
    folders += d.folder ? 1 : 0;
  }
  const QString what =
      folders == 0 ? tr("Delete %n item(s)? This cannot be undone.", "", int(docs.size()))
                   : tr("Delete %n item(s)? Folders are deleted with everything in them. This "
                        "cannot be undone.",
                        "", int(docs.size()));
  if (!Confirm(what + "\n\n" + names.mid(0, 10).join('\n'))) return;
  const QModelIndex column = view_->currentIndex().parent();
  backend_->Run<std::vector<InodeId>>(
      this,
      [docs](Client& c) -> Result<std::vector<InodeId>> {
        std::vector<InodeId> gone;
        for (const Selected& d : docs) {
          ASSIGN_OR_RETURN(Attr parent, c.ResolvePath(ParentPath(d.path).toStdString()));
          const std::string name = d.path.section('/', -1).toStdString();
          Status s;
          if (d.folder) {
            s = c.RemoveContents(d.inode, d.path.toStdString());
            if (s.ok()) s = c.Rmdir(parent.inode, name);
          } else {
            s = c.Unlink(parent.inode, name);
          }
          if (!s.ok()) return s.WithContext(d.path.toStdString());
          gone.push_back(d.inode);
        }
        return gone;
      },
      [this, column](Result<std::vector<InodeId>> r) {
        if (!r.ok()) return Report(tr("delete"), r.status());
        for (InodeId i : *r) model_->removeInode(i);
        details_->showDocument(0, {});
        statusBar()->showMessage(tr("Deleted %n item(s)", "", int(r->size())), 5000);
        model_->refreshCounts(column);
        PollStatus();
      });
}

void MainWindow::renameCurrent() {
  const QModelIndex current = view_->currentIndex();
  const Kind k = model_->kindOf(current);
  if (!current.isValid() || (k != Kind::kDocument && k != Kind::kFolder)) return;
  const QString path = current.data(BrowserModel::PathRole).toString();
  auto name = Prompt(tr("Rename"), tr("New name:"), path.section('/', -1));
  if (!name || name->isEmpty() || *name == path.section('/', -1)) return;
  const std::string from = path.section('/', -1).toStdString();
  const std::string to = name->toStdString();
  const std::string dir = ParentPath(path).toStdString();
  const QPersistentModelIndex column = current.parent();
  backend_->Run<bool>(
      this,
      [dir, from, to](Client& c) -> Result<bool> {
        ASSIGN_OR_RETURN(Attr parent, c.ResolvePath(dir));
        RETURN_IF_ERROR(c.Rename(parent.inode, from, parent.inode, to, Client::kRenameNoReplace));
        return true;
      },
      [this, column](Result<bool> r) {
        if (!r.ok()) return Report(tr("rename"), r.status());
        AfterNamespaceChange(column);
      });
}

void MainWindow::moveSelected() {
  const std::vector<Selected> docs = SelectedDocuments();
  if (docs.empty()) return;
  auto dest = Prompt(tr("Move"), tr("Move %n item(s) to the folder:", "", int(docs.size())),
                     CurrentFolder());
  if (!dest || dest->isEmpty()) return;
  const std::string to = dest->toStdString();
  const QPersistentModelIndex column = view_->currentIndex().parent();
  backend_->Run<int>(
      this,
      [docs, to](Client& c) -> Result<int> {
        ASSIGN_OR_RETURN(Attr target, c.ResolvePath(to));
        if (target.type != FileType::kDirectory) {
          return Status(ErrorCode::kNotDir, to + " is not a folder");
        }
        int moved = 0;
        for (const Selected& d : docs) {
          ASSIGN_OR_RETURN(Attr parent, c.ResolvePath(ParentPath(d.path).toStdString()));
          const std::string name = d.path.section('/', -1).toStdString();
          Status s = c.Rename(parent.inode, name, target.inode, name, Client::kRenameNoReplace);
          if (!s.ok()) return s.WithContext(d.path.toStdString());
          ++moved;
        }
        return moved;
      },
      [this, column](Result<int> r) {
        if (!r.ok()) return Report(tr("move"), r.status());
        statusBar()->showMessage(tr("Moved %n item(s)", "", *r), 5000);
        AfterNamespaceChange(column);
      });
}

// ---- transfers

QProgressDialog* MainWindow::ProgressDialog(const std::shared_ptr<TransferProgress>& progress,
                                            const QString& what) {
  auto* dialog = new QProgressDialog(what, tr("Cancel"), 0, 1000, this);
  dialog->setObjectName("transferProgress");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setMinimumDuration(300);
  dialog->setAutoClose(false);
  dialog->setAutoReset(false);
  auto* timer = new QTimer(dialog);
  connect(timer, &QTimer::timeout, dialog, [dialog, progress, what]() {
    const uint64_t total = progress->bytes_total.load();
    dialog->setValue(total == 0 ? 0 : static_cast<int>(progress->bytes_done.load() * 1000 / total));
    if (progress->files_total.load() > 1) {
      dialog->setLabelText(QObject::tr("%1 (%2 of %3 files)")
                               .arg(what)
                               .arg(progress->files_done.load())
                               .arg(progress->files_total.load()));
    }
  });
  connect(dialog, &QProgressDialog::canceled, dialog, [progress]() { progress->cancel = true; });
  timer->start(100);
  return dialog;
}

void MainWindow::CloseProgress(QPointer<QProgressDialog> dialog) {
  if (!dialog) return;
  // Closing a QProgressDialog emits canceled(): not the user's.
  dialog->disconnect();
  dialog->close();
}

void MainWindow::addLocal(const QStringList& local, const QString& folder) {
  auto progress = std::make_shared<TransferProgress>();
  QPointer<QProgressDialog> guard = ProgressDialog(progress, tr("Adding to %1…").arg(folder));
  const std::string dest = folder.toStdString();
  backend_->Run<int>(
      this, [local, dest, progress](Client& c) { return Upload(c, local, dest, *progress); },
      [this, guard, progress, folder](Result<int> r) {
        const bool cancelled = progress->cancel.load();
        CloseProgress(guard);
        if (!r.ok()) return Report(tr("add"), r.status());
        statusBar()->showMessage((cancelled ? tr("Cancelled after adding %n file(s) to %1", "", *r)
                                            : tr("Added %n file(s) to %1", "", *r))
                                     .arg(folder),
                                 8000);
        // The folder's column, if it is on the way to the current item.
        for (QModelIndex i = view_->currentIndex(); i.isValid(); i = i.parent()) {
          const Kind k = model_->kindOf(i);
          if ((k == Kind::kFolder || k == Kind::kFoldersCategory) &&
              i.data(BrowserModel::PathRole).toString() == folder) {
            model_->reload(i);
            break;
          }
        }
        model_->refreshCounts(view_->currentIndex());
        PollStatus();
      });
}

void MainWindow::openCurrent() {
  const QModelIndex current = view_->currentIndex();
  if (model_->kindOf(current) != Kind::kDocument) return;
  if (!temp_) temp_ = std::make_unique<QTemporaryDir>();
  const InodeId inode = current.data(BrowserModel::InodeRole).toLongLong();
  const QString local =
      temp_->filePath(QString::number(inode) + "-" +
                      current.data(BrowserModel::PathRole).toString().section('/', -1));
  auto progress = std::make_shared<TransferProgress>();
  QPointer<QProgressDialog> dialog =
      ProgressDialog(progress, tr("Opening %1…").arg(local.section('/', -1)));
  backend_->Run<bool>(
      this,
      [inode, local, progress](Client& c) -> Result<bool> {
        RETURN_IF_ERROR(Download(c, inode, local, *progress));
        return true;
      },
      [this, local, dialog, progress](Result<bool> r) {
        const bool cancelled = progress->cancel.load();
        CloseProgress(dialog);
        if (!r.ok()) return Report(tr("open"), r.status());
        if (cancelled) return;
        if (!QDesktopServices::openUrl(QUrl::fromLocalFile(local))) {
          statusBar()->showMessage(
              tr("No application opens %1 (a copy is at %2)").arg(local.section('/', -1), local),
              10000);
        }
      });
}

void MainWindow::saveCopyOfCurrent() {
  const QModelIndex current = view_->currentIndex();
  if (model_->kindOf(current) != Kind::kDocument) return;
  const InodeId inode = current.data(BrowserModel::InodeRole).toLongLong();
  const QString name = current.data(BrowserModel::PathRole).toString().section('/', -1);
  const QString local =
      QFileDialog::getSaveFileName(this, tr("Save a copy"), QDir::home().filePath(name));
  if (local.isEmpty()) return;
  auto progress = std::make_shared<TransferProgress>();
  QPointer<QProgressDialog> dialog = ProgressDialog(progress, tr("Saving %1…").arg(local));
  backend_->Run<bool>(
      this,
      [inode, local, progress](Client& c) -> Result<bool> {
        RETURN_IF_ERROR(Download(c, inode, local, *progress));
        return true;
      },
      [this, local, dialog, progress](Result<bool> r) {
        const bool cancelled = progress->cancel.load();
        CloseProgress(dialog);
        if (!r.ok()) return Report(tr("save a copy"), r.status());
        statusBar()->showMessage(
            cancelled ? tr("Cancelled: %1 not saved").arg(local) : tr("Saved %1").arg(local), 5000);
      });
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() && !event->mimeData()->hasFormat(BrowserModel::kInodesMime)) {
    event->acceptProposedAction();
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  // A drag out of the browser dropped back on it: not local files (asking
  // for its URLs would copy the documents out).
  if (event->mimeData()->hasFormat(BrowserModel::kInodesMime)) return;
  QStringList local;
  for (const QUrl& u : event->mimeData()->urls()) {
    if (u.isLocalFile()) local << u.toLocalFile();
  }
  if (local.isEmpty()) return;
  event->acceptProposedAction();
  addLocal(local, CurrentFolder());
}

// ---- context menu

void MainWindow::ShowContextMenu(const QPoint& global, const QModelIndex& index) {
  if (index.isValid() && !view_->selectionModel()->isSelected(index)) {
    view_->setCurrentIndex(index);
  }
  QMenu menu;
  const Kind k = model_->kindOf(index);
  if (k == Kind::kDocument) {
    menu.addAction(tr("Open"), this, [this]() { openCurrent(); });
    menu.addAction(tr("Save a copy…"), this, [this]() { saveCopyOfCurrent(); });
    menu.addSeparator();
  }
  if (k == Kind::kDocument || k == Kind::kFolder) {
    menu.addAction(tr("Tag…"), this, [this]() { tagSelected(false); });
    menu.addAction(tr("Untag…"), this, [this]() { tagSelected(true); });
    menu.addAction(tr("Rename…"), this, [this]() { renameCurrent(); });
    menu.addAction(tr("Move to…"), this, [this]() { moveSelected(); });
    menu.addAction(tr("Delete"), this, [this]() { deleteSelected(); });
    menu.addSeparator();
  }
  if (k == Kind::kFolder || k == Kind::kFoldersCategory) {
    menu.addAction(tr("Add files here…"), this, [this]() {
      const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add files"));
      if (!files.isEmpty()) addLocal(files, CurrentFolder());
    });
  }
  const QString q = index.data(BrowserModel::QueryRole).toString();
  if (!q.isEmpty()) {
    menu.addAction(tr("Search for “%1”").arg(q), this, [this, q]() { runSearch(q); });
  }
  menu.addAction(tr("Refresh"), this, [this]() { refresh(); });
  menu.exec(global);
}

// ---- settings

void MainWindow::SaveSettings() const {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  QVariantList widths;
  for (int w : view_->columnWidths()) widths << w;
  s.setValue("columns/widths", widths);
  s.setValue("cluster/last", Q(options_.meta_address));
}

void MainWindow::RestoreSettings() {
  QSettings s;
  if (!restoreGeometry(s.value("window/geometry").toByteArray())) resize(1100, 700);
  restoreState(s.value("window/state").toByteArray());
  QList<int> widths;
  for (const QVariant& v : s.value("columns/widths").toList()) widths << v.toInt();
  if (!widths.isEmpty()) view_->setColumnWidths(widths);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  SaveSettings();
  QMainWindow::closeEvent(event);
}

}  // namespace ddbfs::gui
