#include "drag_mime.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QEventLoop>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <optional>

namespace ddbfs::gui {

namespace {

const QString kUriList = QStringLiteral("text/uri-list");

}  // namespace

DragMimeData::DragMimeData(Backend* backend, std::vector<CopyOutItem> items, ProgressHook hook)
    : backend_(backend), items_(std::move(items)), hook_(std::move(hook)) {}

QStringList DragMimeData::formats() const {
  QStringList f = QMimeData::formats();
  if (!items_.empty() && !f.contains(kUriList)) f << kUriList;
  return f;
}

QString DragMimeData::CacheFolder() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)).filePath("drag");
}

int DragMimeData::CleanCache(qint64 max_age_seconds) {
  QDir dir(CacheFolder());
  if (!dir.exists()) return 0;
  const QDateTime limit = QDateTime::currentDateTimeUtc().addSecs(-max_age_seconds);
  int removed = 0;
  for (const QFileInfo& f : dir.entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden)) {
    if (f.lastModified().toUTC() < limit && QDir(f.filePath()).removeRecursively()) ++removed;
  }
  return removed;
}

QVariant DragMimeData::retrieveData(const QString& mime_type, QMetaType type) const {
  if (mime_type != kUriList || items_.empty()) return QMimeData::retrieveData(mime_type, type);
  Copy();
  if (urls_.isEmpty()) return {};
  if (type.id() == QMetaType::QByteArray) {
    QByteArray bytes;
    for (const QUrl& u : urls_) bytes += u.toEncoded() + "\r\n";
    return bytes;
  }
  QVariantList list;
  for (const QUrl& u : urls_) list << u;
  return list;
}

void DragMimeData::Copy() const {
  if (copied_) return;
  copied_ = true;
  if (!backend_) return;
  ++copies_;
  if (!QDir().mkpath(CacheFolder())) return;
  QTemporaryDir dir(QDir(CacheFolder()).filePath("XXXXXX"));
  if (!dir.isValid()) return;
  dir.setAutoRemove(false);
  folder_ = dir.path();

  auto progress = std::make_shared<TransferProgress>();
  const QString what =
      items_.size() == 1
          ? tr("Copying %1…").arg(QString::fromStdString(items_[0].path).section('/', -1))
          : tr("Copying %n item(s)…", "", static_cast<int>(items_.size()));
  std::function<void(const Status&, bool)> ended = hook_ ? hook_(progress, what) : nullptr;

  // The copy runs on a worker; this waits in a nested event loop, so the
  // window paints and the progress dialog's Cancel works meanwhile.
  QEventLoop loop;
  std::optional<Result<QStringList>> outcome;
  const std::vector<CopyOutItem> items = items_;
  const QString target = folder_;
  backend_->Run<QStringList>(
      &loop,
      [items, target, progress](Client& c) { return DownloadTo(c, items, target, *progress); },
      [&outcome, &loop](Result<QStringList> r) {
        outcome = std::move(r);
        loop.quit();
      });
  // A backend that goes meanwhile (another cluster) drops the answer.
  QObject::connect(backend_.data(), &QObject::destroyed, &loop, &QEventLoop::quit);
  if (!outcome) loop.exec();

  const bool cancelled = progress->cancel.load();
  const Status status = outcome ? outcome->status() : Status(ErrorCode::kUnavailable, "no answer");
  if (outcome && outcome->ok() && !cancelled) {
    for (const QString& local : **outcome) urls_ << QUrl::fromLocalFile(local);
  } else {
    QDir(folder_).removeRecursively();
  }
  if (ended) ended(status, cancelled);
}

}  // namespace ddbfs::gui
