#pragma once

// The browser's window: the Miller columns with the details pane as their
// preview, the search bar, a banner while the metaserver is unreachable, the
// status bar, menus, context menus and keyboard shortcuts, and every action
// of docs/browser.md. All cluster calls go through the Backend.
//
// Thread-safety: GUI thread only.

#include <QMainWindow>
#include <QPointer>
#include <QProgressDialog>
#include <QStringListModel>
#include <QTemporaryDir>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "backend.h"
#include "browser_model.h"
#include "tag_undo.h"

class QLabel;
class QAction;

namespace ddbfs::gui {

class ColumnView;
struct TransferProgress;
class DetailsPane;
class SearchBar;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(ClientOptions options, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Test hooks: answer confirmations and prompts without a dialog.
  // confirm(question) -> yes; prompt(title, label, initial) -> text or none.
  using ConfirmHook = std::function<bool(const QString& question)>;
  using PromptHook =
      std::function<std::optional<QString>(const QString&, const QString&, const QString&)>;
  void set_confirm_hook(ConfirmHook hook) { confirm_hook_ = std::move(hook); }
  void set_prompt_hook(PromptHook hook) { prompt_hook_ = std::move(hook); }

  BrowserModel* model() const { return model_.get(); }
  Backend* backend() const { return backend_.get(); }
  ColumnView* columns() const { return view_; }
  DetailsPane* details() const { return details_; }
  SearchBar* searchBar() const { return search_; }
  QLabel* banner() const { return banner_; }
  QLabel* clusterStatus() const { return status_; }
  // How often the status bar asks the cluster (ms).
  void set_status_interval_ms(int ms);
  // How often the live refresh lists the shown columns again (ms; 0: never).
  // Default: $DDBFS_BROWSER_REFRESH_MS, else the setting refresh/interval_ms,
  // else 5000.
  void set_refresh_interval_ms(int ms);
  int refresh_interval_ms() const;
  QAction* undoAction() const { return undo_; }
  QAction* redoAction() const { return redo_; }
  // Tag changes that can be undone / redone (the undo stack's depth).
  static constexpr size_t kUndoDepth = 50;
  size_t undoSteps() const { return undo_steps_.size(); }
  size_t redoSteps() const { return redo_steps_.size(); }

  // Actions (also bound to menus, shortcuts and context menus).
  void runSearch(const QString& query);
  void tagSelected(bool remove);
  void applyTagChange(const std::vector<InodeId>& inodes, const std::vector<Tag>& add,
                      const std::vector<Tag>& remove, bool undoable);
  void undoTagChange();
  void redoTagChange();
  void deleteSelected();
  void renameCurrent();
  void moveSelected();
  void addLocal(const QStringList& local, const QString& folder);
  void openCurrent();
  void saveCopyOfCurrent();
  void goToPath(const QString& path);
  void refresh();
  // Switches to another cluster (File > Connect to…).
  void connectTo(const QString& meta);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  struct Selected {
    InodeId inode = 0;
    QString path;
    bool folder = false;
  };
  void BuildActions();
  void Attach(ClientOptions options);  // a backend and a model for `options`
  void OnCurrentChanged(const QModelIndex& current);
  void ShowContextMenu(const QPoint& global, const QModelIndex& index);
  void PollStatus();
  // The live refresh's tick: refreshLive() unless the user is busy.
  void LiveRefresh();
  void LoadTagNames();
  std::vector<Selected> SelectedDocuments() const;
  QString CurrentFolder() const;
  bool Confirm(const QString& question);
  std::optional<QString> Prompt(const QString& title, const QString& label,
                                const QString& initial = {});
  void Report(const QString& what, const Status& s);
  void AfterNamespaceChange(const QModelIndex& column);
  // After tags changed: the message, counts, details, completions.
  void AfterTagChange(const QString& message);
  void NavigateStep();
  // A progress dialog for a transfer (Cancel sets progress->cancel); it
  // shows after 300 ms. CloseProgress closes it without cancelling.
  QProgressDialog* ProgressDialog(const std::shared_ptr<TransferProgress>& progress,
                                  const QString& what);
  static void CloseProgress(QPointer<QProgressDialog> dialog);
  void SaveSettings() const;
  void RestoreSettings();

  ClientOptions options_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<BrowserModel> model_;
  QStringListModel tag_names_;
  ColumnView* view_ = nullptr;
  DetailsPane* details_ = nullptr;
  SearchBar* search_ = nullptr;
  QLabel* banner_ = nullptr;
  QLabel* status_ = nullptr;
  QTimer* status_timer_ = nullptr;
  QTimer* refresh_timer_ = nullptr;
  QAction* undo_ = nullptr;
  QAction* redo_ = nullptr;
  ConfirmHook confirm_hook_;
  PromptHook prompt_hook_;
  std::unique_ptr<QTemporaryDir> temp_;  // copies opened with other programs
  // One undoable tag change: what it did ("add tag 'x' to 3 documents") and
  // the changes that take its documents back and forth.
  struct TagStep {
    QString label;
    std::vector<TagChange> undo;
    std::vector<TagChange> redo;
  };
  void UpdateUndoActions();
  // Undoes (redo = false) or redoes the last step of its stack.
  void StepTagChange(bool redo);
  std::vector<TagStep> undo_steps_;  // the last is undone first
  std::vector<TagStep> redo_steps_;  // the last is redone first
  bool stepping_ = false;            // an undo or redo is running
  // Go to path (Ctrl+L): the names still to walk from navigate_at_.
  QStringList navigate_rest_;
  QPersistentModelIndex navigate_at_;
};

}  // namespace ddbfs::gui
