#include "details_pane.h"

#include <QBuffer>
#include <QCompleter>
#include <QDateTime>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPainter>
#include <QPdfDocument>
#include <QPlainTextEdit>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

#include "flow_layout.h"

namespace ddbfs::gui {

namespace {

// What the preview reads: text shows its first 64 KiB; images and PDFs are
// read whole up to 16 MiB (larger ones are not previewed).
constexpr size_t kTextPreviewBytes = 64 << 10;
constexpr uint64_t kWholePreviewBytes = 16 << 20;
constexpr int kPreviewWidth = 300;
constexpr int kPreviewHeight = 420;

QString TimeText(int64_t ns) {
  return QLocale().toString(QDateTime::fromMSecsSinceEpoch(ns / 1000000), QLocale::ShortFormat);
}

QString SizeText(uint64_t bytes) { return QLocale().formattedDataSize(static_cast<qint64>(bytes)); }

bool LooksLikeText(const std::string& head) {
  if (head.empty()) return true;
  const size_t n = std::min<size_t>(head.size(), 4096);
  size_t odd = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(head[i]);
    if (c == 0) return false;
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') ++odd;
  }
  return odd * 20 < n;
}

Result<std::string> ReadHead(Client& c, const Attr& attr) {
  if (attr.type != FileType::kRegular || attr.size == 0) return std::string();
  const size_t want = attr.size <= kWholePreviewBytes ? attr.size : kTextPreviewBytes;
  ASSIGN_OR_RETURN(auto reader, c.OpenReader(attr.inode));
  std::string out(want, '\0');
  size_t done = 0;
  while (done < want) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(done, std::span<char>(out.data() + done, want - done)));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

}  // namespace

DetailsPane::DetailsPane(Backend* backend, QAbstractItemModel* tag_names, QWidget* parent)
    : QWidget(parent), backend_(backend) {
  setObjectName("details");
  setMinimumWidth(kPreviewWidth + 10);
  auto* layout = new QVBoxLayout(this);
  name_ = new QLabel;
  name_->setWordWrap(true);
  QFont big = name_->font();
  big.setBold(true);
  big.setPointSizeF(big.pointSizeF() * 1.2);
  name_->setFont(big);
  name_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  facts_ = new QLabel;
  facts_->setObjectName("facts");
  facts_->setWordWrap(true);
  facts_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  chips_box_ = new QWidget;
  chips_ = new FlowLayout(chips_box_);
  add_tag_ = new QLineEdit;
  add_tag_->setObjectName("addTag");
  add_tag_->setPlaceholderText(tr("Add a tag (name or name=value)"));
  auto* completer = new QCompleter(tag_names, add_tag_);
  completer->setCaseSensitivity(Qt::CaseInsensitive);
  add_tag_->setCompleter(completer);
  connect(add_tag_, &QLineEdit::returnPressed, this, [this]() {
    const QString text = add_tag_->text().trimmed();
    if (text.isEmpty() || inode_ == 0) return;
    add_tag_->clear();
    emit addTagRequested(inode_, text);
  });
  preview_ = new QStackedWidget;
  image_ = new QLabel;
  image_->setAlignment(Qt::AlignHCenter | Qt::AlignTop);
  text_ = new QPlainTextEdit;
  text_->setReadOnly(true);
  text_->setLineWrapMode(QPlainTextEdit::NoWrap);
  no_preview_ = new QLabel(tr("No preview"));
  no_preview_->setAlignment(Qt::AlignCenter);
  preview_->addWidget(no_preview_);
  preview_->addWidget(image_);
  preview_->addWidget(text_);
  layout->addWidget(name_);
  layout->addWidget(facts_);
  layout->addWidget(new QLabel(tr("Tags")));
  layout->addWidget(chips_box_);
  layout->addWidget(add_tag_);
  layout->addWidget(preview_, 1);
}

void DetailsPane::showDocument(InodeId inode, const QString& path) {
  if (inode == inode_ && path == path_) return;
  inode_ = inode;
  path_ = path;
  name_->setText(path.section('/', -1));
  facts_->setText(path);
  while (QLayoutItem* item = chips_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  preview_->setCurrentWidget(no_preview_);
  preview_kind_ = "none";
  reload();
}

void DetailsPane::reload() {
  if (inode_ == 0) return;
  const InodeId inode = inode_;
  const uint64_t gen = ++generation_;
  loading_ = true;
  backend_->Run<Loaded>(
      this,
      [inode](Client& c) -> Result<Loaded> {
        Loaded d;
        ASSIGN_OR_RETURN(d.attr, c.GetAttr(inode));
        ASSIGN_OR_RETURN(d.tags, c.GetTags(inode));
        if (d.attr.type == FileType::kRegular) {
          ASSIGN_OR_RETURN(std::vector<ChunkView> chunks, c.Chunks(inode));
          d.chunks = static_cast<int>(chunks.size());
          d.healthy = chunks.empty() ? d.attr.goal : INT32_MAX;
          for (const ChunkView& ch : chunks) {
            int good = 0;
            for (const ReplicaView& r : ch.replicas) good += r.alive && r.current ? 1 : 0;
            d.healthy = std::min(d.healthy, good);
          }
          ASSIGN_OR_RETURN(d.head, ReadHead(c, d.attr));
        }
        return d;
      },
      [this, gen](Result<Loaded> r) {
        if (gen != generation_) return;
        loading_ = false;
        if (!r.ok()) {
          facts_->setText(path_ + "\n" + QString::fromStdString(r.status().ToString()));
        } else {
          Show(*r);
        }
        emit loaded();
      });
}

void DetailsPane::Show(const Loaded& d) {
  QStringList facts;
  facts << path_;
  if (d.attr.type == FileType::kDirectory) {
    facts << tr("Folder");
  } else {
    facts << tr("%1 (%2 bytes)").arg(SizeText(d.attr.size), QLocale().toString(d.attr.size));
  }
  facts << tr("Modified %1").arg(TimeText(d.attr.mtime_ns));
  facts << tr("Changed %1").arg(TimeText(d.attr.ctime_ns));
  if (d.attr.type == FileType::kRegular) {
    const QString health =
        d.chunks == 0 ? tr("no data yet")
                      : tr("%1 of %2 replicas on every chunk").arg(d.healthy).arg(d.attr.goal);
    facts << tr("Replicas: %1").arg(health);
  }
  facts_->setText(facts.join('\n'));
  while (QLayoutItem* item = chips_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  for (const Tag& t : d.tags) {
    auto* chip = new QToolButton;
    const QString text = QString::fromStdString(TagText(t));
    chip->setText(text + QStringLiteral("  \u2715"));
    chip->setToolTip(tr("Remove the tag %1").arg(text));
    chip->setProperty("tag", text);
    chip->setObjectName("chip");
    const InodeId inode = inode_;
    connect(chip, &QToolButton::clicked, this,
            [this, inode, t]() { emit removeTagRequested(inode, t); });
    chips_->addWidget(chip);
  }
  chips_box_->updateGeometry();
  ShowPreview(d.head, name_->text());
  // QColumnView keeps its preview widget's height (and scrolls it): take
  // the column's height, or more when the contents need it.
  if (QWidget* column = parentWidget()) {
    resize(width(), std::max(column->height(), layout()->minimumSize().height()));
  }
}

void DetailsPane::ShowPreview(const std::string& head, const QString& name) {
  const QByteArray bytes = QByteArray::fromStdString(head);
  QImage image;
  if (!bytes.isEmpty() && image.loadFromData(bytes)) {
    image_->setPixmap(QPixmap::fromImage(image.scaled(
        kPreviewWidth, kPreviewHeight, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    preview_->setCurrentWidget(image_);
    preview_kind_ = "image";
    return;
  }
  if (bytes.startsWith("%PDF")) {
    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    QPdfDocument pdf;
    pdf.load(&buffer);
    if (pdf.status() == QPdfDocument::Status::Ready && pdf.pageCount() > 0) {
      const QSizeF points = pdf.pagePointSize(0);
      const double scale = std::min(kPreviewWidth / std::max(1.0, points.width()),
                                    kPreviewHeight / std::max(1.0, points.height()));
      const QImage page = pdf.render(0, (points * scale).toSize());
      // Pages render on a transparent background: put them on paper.
      QImage paper(page.size(), QImage::Format_RGB32);
      paper.fill(Qt::white);
      QPainter painter(&paper);
      painter.drawImage(0, 0, page);
      painter.setPen(Qt::lightGray);
      painter.drawRect(paper.rect().adjusted(0, 0, -1, -1));
      painter.end();
      image_->setPixmap(QPixmap::fromImage(paper));
      preview_->setCurrentWidget(image_);
      preview_kind_ = "pdf";
      return;
    }
  }
  if (!bytes.isEmpty() && LooksLikeText(head)) {
    text_->setPlainText(QString::fromUtf8(bytes.left(static_cast<int>(kTextPreviewBytes))));
    preview_->setCurrentWidget(text_);
    preview_kind_ = "text";
    return;
  }
  no_preview_->setText(bytes.isEmpty() ? tr("Empty") : tr("No preview for %1").arg(name));
  preview_->setCurrentWidget(no_preview_);
  preview_kind_ = "none";
}

QStringList DetailsPane::chipTexts() const {
  QStringList out;
  for (int i = 0; i < chips_->count(); ++i) {
    if (QWidget* w = chips_->itemAt(i)->widget()) out << w->property("tag").toString();
  }
  return out;
}

}  // namespace ddbfs::gui
