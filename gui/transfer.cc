#include "transfer.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <algorithm>
#include <vector>

namespace ddbfs::gui {

namespace {

constexpr qint64 kPiece = 1 << 20;

std::string Join(const std::string& dir, const QString& name) {
  return (dir == "/" ? "/" : dir + "/") + name.toStdString();
}

// The folder `name` in `parent`, made if missing.
Result<Attr> EnsureDir(Client& c, InodeId parent, const std::string& name) {
  auto made = c.Mkdir(parent, name, 0755);
  if (made.ok() || made.status().code() != ErrorCode::kExists) return made;
  ASSIGN_OR_RETURN(Attr a, c.Lookup(parent, name));
  if (a.type != FileType::kDirectory) {
    return Status(ErrorCode::kExists, name + " exists and is not a folder");
  }
  return a;
}

Status UploadFile(Client& c, const QFileInfo& info, InodeId parent, const std::string& path,
                  TransferProgress& progress) {
  QFile f(info.filePath());
  if (!f.open(QIODevice::ReadOnly)) {
    return IoError("cannot read " + info.filePath().toStdString() + ": " +
                   f.errorString().toStdString());
  }
  const std::string name = info.fileName().toStdString();
  auto created =
      c.CreateForWrite(parent, name, 0644, info.lastModified().toMSecsSinceEpoch() * 1000000);
  if (!created.ok()) return created.status().WithContext(path);
  FileWriter& w = *created->writer;
  w.SetMtime(info.lastModified().toMSecsSinceEpoch() * 1000000);
  std::vector<char> buf(kPiece);
  uint64_t offset = 0;
  while (true) {
    if (progress.cancel.load()) {
      (void)w.Close();
      (void)c.Unlink(parent, name);
      return Status();  // the caller sees progress.cancel
    }
    const qint64 n = f.read(buf.data(), kPiece);
    if (n < 0) return IoError("cannot read " + info.filePath().toStdString());
    if (n == 0) break;
    RETURN_IF_ERROR(w.Write(offset, std::span<const char>(buf.data(), static_cast<size_t>(n))));
    offset += static_cast<uint64_t>(n);
    progress.bytes_done += static_cast<uint64_t>(n);
  }
  RETURN_IF_ERROR(w.Close());
  ++progress.files_done;
  return Status();
}

}  // namespace

Result<int> Upload(Client& c, const QStringList& local, const std::string& folder,
                   TransferProgress& progress) {
  // Plan first, so that the progress knows the total.
  struct Item {
    QFileInfo info;
    std::string path;  // DDBFS path
  };
  std::vector<Item> items;
  for (const QString& l : local) {
    QFileInfo top(l);
    if (!top.exists()) return NotFound("no such local file: " + l.toStdString());
    items.push_back({top, Join(folder, top.fileName())});
    if (top.isDir() && !top.isSymLink()) {
      QDirIterator it(l, QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden,
                      QDirIterator::Subdirectories);
      while (it.hasNext()) {
        it.next();
        const QString rel = QDir(l).relativeFilePath(it.filePath());
        items.push_back({it.fileInfo(), Join(Join(folder, top.fileName()), rel)});
      }
    }
  }
  // Folders come before what is in them: sort by path depth, then path.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::count(a.path.begin(), a.path.end(), '/') <
           std::count(b.path.begin(), b.path.end(), '/');
  });
  for (const Item& it : items) {
    if (it.info.isFile()) {
      progress.bytes_total += static_cast<uint64_t>(it.info.size());
      ++progress.files_total;
    }
  }
  int added = 0;
  for (const Item& it : items) {
    if (progress.cancel.load()) break;
    const size_t slash = it.path.rfind('/');
    ASSIGN_OR_RETURN(Attr parent, c.ResolvePath(slash == 0 ? "/" : it.path.substr(0, slash)));
    if (it.info.isDir() && !it.info.isSymLink()) {
      RETURN_IF_ERROR(EnsureDir(c, parent.inode, it.path.substr(slash + 1)).status());
    } else if (it.info.isSymLink()) {
      RETURN_IF_ERROR(
          c.Symlink(parent.inode, it.path.substr(slash + 1), it.info.symLinkTarget().toStdString())
              .status());
    } else if (it.info.isFile()) {
      RETURN_IF_ERROR(UploadFile(c, it.info, parent.inode, it.path, progress));
      if (!progress.cancel.load()) ++added;
    }
  }
  return added;
}

Status Download(Client& c, InodeId inode, const QString& local, TransferProgress& progress) {
  ASSIGN_OR_RETURN(auto reader, c.OpenReader(inode));
  progress.bytes_total = reader->size();
  progress.files_total = 1;
  QFile out(local);
  if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
    return IoError("cannot write " + local.toStdString() + ": " + out.errorString().toStdString());
  }
  std::vector<char> buf(kPiece);
  uint64_t offset = 0;
  while (true) {
    if (progress.cancel.load()) {
      out.remove();
      return Status();  // the caller sees progress.cancel
    }
    ASSIGN_OR_RETURN(size_t n, reader->Read(offset, std::span<char>(buf.data(), buf.size())));
    if (n == 0) break;
    if (out.write(buf.data(), static_cast<qint64>(n)) != static_cast<qint64>(n)) {
      return IoError("cannot write " + local.toStdString() + ": " +
                     out.errorString().toStdString());
    }
    offset += n;
    progress.bytes_done += n;
  }
  ++progress.files_done;
  return Status();
}

}  // namespace ddbfs::gui
