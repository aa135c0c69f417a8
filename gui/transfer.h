#pragma once

// Copies between the local disk and the cluster for the browser's actions:
// adding files and folders (dialog, drag and drop) and downloading a copy
// (open with the default application, save a copy). They run on a Backend
// worker; progress is read from atomics by the GUI thread, and a cancel flag
// stops a transfer between pieces.

#include <QString>
#include <QStringList>
#include <atomic>
#include <cstdint>
#include <string>

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

}  // namespace ddbfs::gui
