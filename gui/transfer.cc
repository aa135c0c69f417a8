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

namespace {

// Writes `inode` to `local`, counting into progress (not its totals).
Status CopyOut(Client& c, InodeId inode, const QString& local, TransferProgress& progress,
               bool set_total) {
  ASSIGN_OR_RETURN(auto reader, c.OpenReader(inode));
  if (set_total) {
    progress.bytes_total = reader->size();
    progress.files_total = 1;
  }
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

}  // namespace

Status Download(Client& c, InodeId inode, const QString& local, TransferProgress& progress) {
  return CopyOut(c, inode, local, progress, true);
}

QString DistinctName(const QString& name, QStringList& taken) {
  QString out = name;
  // The extension starts at the first dot that is not the first character.
  const qsizetype dot = name.indexOf('.', 1);
  const QString stem = dot < 0 ? name : name.left(dot);
  const QString ext = dot < 0 ? QString() : name.mid(dot);
  for (int i = 2; taken.contains(out); ++i)
    out = QStringLiteral("%1 (%2)%3").arg(stem, QString::number(i), ext);
  taken << out;
  return out;
}

Result<QStringList> DownloadTo(Client& c, const std::vector<CopyOutItem>& items, const QString& dir,
                               TransferProgress& progress) {
  // Plan first (folders walked, sizes known), so that the progress knows
  // the total before a byte is copied.
  struct Step {
    enum { kFile, kFolder, kLink } what;
    InodeId inode;
    QString local;
  };
  std::vector<Step> steps;
  QStringList top;
  QStringList taken;
  uint64_t bytes = 0;
  int files = 0;
  // Folders still to walk: (inode, local path).
  std::vector<std::pair<InodeId, QString>> folders;
  auto plan = [&](InodeId inode, const Attr& a, const QString& local) {
    if (a.type == FileType::kDirectory) {
      steps.push_back({Step::kFolder, inode, local});
      folders.emplace_back(inode, local);
    } else if (a.type == FileType::kSymlink) {
      steps.push_back({Step::kLink, inode, local});
    } else if (a.type == FileType::kRegular) {
      steps.push_back({Step::kFile, inode, local});
      bytes += a.size;
      ++files;
    }  // fifos, sockets and devices have no bytes to copy
  };
  for (const CopyOutItem& it : items) {
    ASSIGN_OR_RETURN(Attr a, c.GetAttr(it.inode));
    const size_t slash = it.path.rfind('/');
    QString name =
        QString::fromStdString(slash == std::string::npos ? it.path : it.path.substr(slash + 1));
    if (name.isEmpty()) name = QStringLiteral("ddbfs");  // "/"
    const QString local = QDir(dir).filePath(DistinctName(name, taken));
    top << local;
    plan(it.inode, a, local);
  }
  while (!folders.empty()) {
    auto [inode, local] = folders.back();
    folders.pop_back();
    if (progress.cancel.load()) return top;
    ASSIGN_OR_RETURN(std::vector<DirEntry> entries, c.ListDir(inode));
    for (const DirEntry& e : entries) {
      plan(e.attr.inode, e.attr, QDir(local).filePath(QString::fromStdString(e.name)));
    }
  }
  progress.bytes_total = bytes;
  progress.files_total = files;
  // A folder's step comes before what is in it (planned after it).
  for (const Step& s : steps) {
    if (progress.cancel.load()) break;
    switch (s.what) {
      case Step::kFolder:
        if (!QDir().mkpath(s.local)) return IoError("cannot make " + s.local.toStdString());
        break;
      case Step::kLink: {
        ASSIGN_OR_RETURN(std::string target, c.Readlink(s.inode));
        if (!QFile::link(QString::fromStdString(target), s.local)) {
          return IoError("cannot make the link " + s.local.toStdString());
        }
        break;
      }
      case Step::kFile:
        RETURN_IF_ERROR(CopyOut(c, s.inode, s.local, progress, false));
        break;
    }
  }
  return top;
}

}  // namespace ddbfs::gui
