#pragma once

// The details of one document (QColumnView's preview widget): name, path,
// size, dates, replica health, its tags as removable chips with a field that
// adds one (completing existing names), and a preview of images, the first
// page of PDFs and text. Everything is loaded through the Backend.
//
// Thread-safety: GUI thread only.

#include <QImage>
#include <QWidget>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"

class QAbstractItemModel;
class QCompleter;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QStackedWidget;

namespace ddbfs::gui {

class FlowLayout;

class DetailsPane : public QWidget {
  Q_OBJECT

 public:
  DetailsPane(Backend* backend, QAbstractItemModel* tag_names, QWidget* parent = nullptr);

  // Shows the document at `path` (inode known from the listing); 0 clears.
  void showDocument(InodeId inode, const QString& path);
  // Loads the shown document again (after a change).
  void reload();
  void setBackend(Backend* backend) { backend_ = backend; }

  InodeId inode() const { return inode_; }
  // For tests: the tags shown as chips ("name" or "name=value").
  QStringList chipTexts() const;
  QLineEdit* addTagField() const { return add_tag_; }
  // What the preview shows: "image", "pdf", "text" or "none".
  QString previewKind() const { return preview_kind_; }
  bool loading() const { return loading_; }

 signals:
  void addTagRequested(ddbfs::InodeId inode, const QString& tag_text);
  void removeTagRequested(ddbfs::InodeId inode, const ddbfs::Tag& tag);
  void loaded();

 private:
  struct Loaded {
    Attr attr;
    std::vector<Tag> tags;
    int healthy = 0;  // replicas of the least replicated chunk
    int chunks = 0;
    std::string head;  // the first bytes, for the preview
  };
  void Show(const Loaded& d);
  void ShowPreview(const std::string& head, const QString& name);

  Backend* backend_;
  InodeId inode_ = 0;
  QString path_;
  uint64_t generation_ = 0;
  bool loading_ = false;
  QString preview_kind_ = "none";
  QLabel* name_;
  QLabel* facts_;
  QWidget* chips_box_;
  FlowLayout* chips_;
  QLineEdit* add_tag_;
  QStackedWidget* preview_;
  QLabel* image_;
  QPlainTextEdit* text_;
  QLabel* no_preview_;
};

}  // namespace ddbfs::gui
