#pragma once

// Copies between the local disk and the cluster for the browser's actions:
// adding files and folders (dialog, drag and drop) and downloading a copy
// (open with the default application, save a copy, drag out to the
// desktop). They run on a Backend
// worker; progress is read from atomics by the GUI thread, and a cancel flag
// stops a transfer between pieces.

#include <QString>
#include <QStringList>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::gui {

struct TransferProgress {
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> bytes_total{0};
  std::atomic<int> files_done{0};
  std::atomic<int> files_total{0};
  std::atomic<bool> cancel{false};
};

// Adds each local file or folder (recursively) under the DDBFS folder
// `folder`, merging into folders that exist; a file that exists is an error.
// A cancelled upload (progress.cancel) removes the file it was writing and
// stops without an error; what was added before stays. Returns how many
// files were added.
Result<int> Upload(Client& c, const QStringList& local, const std::string& folder,
                   TransferProgress& progress);

// Writes the document `inode` to the local file `local` (replacing it); a
// cancelled download removes `local` and returns OK.
Status Download(Client& c, InodeId inode, const QString& local, TransferProgress& progress);

// A document or folder of the cluster to copy out.
struct CopyOutItem {
  InodeId inode = 0;
  std::string path;  // its DDBFS path (the local name is its last part)
  bool folder = false;
};

// Copies `items` into the local folder `dir` (which exists), folders with
// everything in them, symbolic links as links. Each item keeps its name;
// a name already taken in `dir` gets " (2)", " (3)", … before its
// extension ("beach (2).jpg"). Returns the local paths of the items, in
// order. A cancelled copy (progress.cancel) stops and returns OK with what
// it wrote so far (the caller removes `dir`).
Result<QStringList> DownloadTo(Client& c, const std::vector<CopyOutItem>& items, const QString& dir,
                               TransferProgress& progress);

// `name` made distinct from `taken` (which it is then added to).
QString DistinctName(const QString& name, QStringList& taken);

}  // namespace ddbfs::gui
