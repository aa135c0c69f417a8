#pragma once

// What a drag out of the browser carries (docs/browser.md, "Drag out to the
// desktop"): the internal `application/x-ddbfs-inodes` (dropped on a tag
// inside the browser), the paths as text, and `text/uri-list` of local
// copies, as file managers expect. The copies are made only when a drop
// target asks for text/uri-list: retrieveData() downloads the dragged
// documents and folders into a fresh folder under the cache location
// (`<cache>/drag/<random>/<name>`) on a Backend worker and waits for it in a
// nested event loop, so that the window keeps painting (and shows the
// progress dialog) meanwhile. The copy is made once per drag.
//
// Thread-safety: GUI thread only (like every QMimeData).

#include <QMimeData>
#include <QPointer>
#include <QStringList>
#include <QUrl>
#include <functional>
#include <memory>
#include <vector>

#include "backend.h"
#include "transfer.h"

namespace ddbfs::gui {

class DragMimeData : public QMimeData {
  Q_OBJECT

 public:
  // Called when a copy starts, with its progress and a description; it
  // returns what to call when the copy ends (with its outcome).
  using ProgressHook = std::function<std::function<void(const Status&, bool cancelled)>(
      std::shared_ptr<TransferProgress> progress, const QString& what)>;

  DragMimeData(Backend* backend, std::vector<CopyOutItem> items, ProgressHook hook);

  QStringList formats() const override;
  // How many copies retrieveData started (tests: 0 after asking for the
  // inode format only).
  int copies() const { return copies_; }
  // The folder the copies went to (empty before).
  QString folder() const { return folder_; }

  // The folder under the cache location that drags copy into.
  static QString CacheFolder();
  // Removes the folders of CacheFolder() last modified more than
  // `max_age_seconds` ago (at start-up: a day). Returns how many went.
  static int CleanCache(qint64 max_age_seconds = 24 * 3600);

 protected:
  QVariant retrieveData(const QString& mime_type, QMetaType type) const override;

 private:
  // Downloads the items once; fills urls_ (empty on failure or cancel).
  void Copy() const;

  QPointer<Backend> backend_;
  const std::vector<CopyOutItem> items_;
  const ProgressHook hook_;
  mutable bool copied_ = false;
  mutable int copies_ = 0;
  mutable QString folder_;
  mutable QList<QUrl> urls_;
};

}  // namespace ddbfs::gui
