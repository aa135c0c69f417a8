#include "column_view.h"

#include <QAbstractItemView>
#include <QApplication>
#include <QKeyEvent>
#include <QListView>
#include <QMouseEvent>
#include <QPainter>
#include <QStyledItemDelegate>
#include <algorithm>

#include "browser_model.h"

namespace ddbfs::gui {

namespace {

// A small luggage-tag shape for tag and value rows.
QIcon TagIcon() {
  static const QIcon icon = [] {
    QPixmap pm(16, 16);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(0xe8, 0xa3, 0x3d));
    const QPointF shape[] = {{2, 4}, {10, 4}, {14, 8}, {10, 12}, {2, 12}};
    p.drawPolygon(shape, 5);
    p.setBrush(Qt::white);
    p.drawEllipse(QPointF(5, 8), 1.5, 1.5);
    return QIcon(pm);
  }();
  return icon;
}

// Draws a row as usual, with an icon for its kind and its document count
// (tags, values) right-aligned.
class CountDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;

 protected:
  void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override {
    QStyledItemDelegate::initStyleOption(option, index);
    using Kind = ModelNode::Kind;
    const auto kind = static_cast<Kind>(index.data(BrowserModel::KindRole).toInt());
    const QStyle* style = option->widget ? option->widget->style() : QApplication::style();
    QIcon icon;
    switch (kind) {
      case Kind::kFolder:
      case Kind::kFoldersCategory:
        icon = style->standardIcon(QStyle::SP_DirIcon);
        break;
      case Kind::kDocument:
        icon = style->standardIcon(QStyle::SP_FileIcon);
        break;
      case Kind::kTag:
      case Kind::kValue:
      case Kind::kAnyValue:
      case Kind::kTagsCategory:
        icon = TagIcon();
        break;
      case Kind::kSavedQuery:
      case Kind::kQueriesCategory:
      case Kind::kSearch:
        icon = style->standardIcon(QStyle::SP_FileDialogContentsView);
        break;
      case Kind::kRoot:
        break;
    }
    if (!icon.isNull()) {
      option->icon = icon;
      option->features |= QStyleOptionViewItem::HasDecoration;
    }
  }

 public:
  void paint(QPainter* painter, const QStyleOptionViewItem& option,
             const QModelIndex& index) const override {
    const qlonglong count = index.data(BrowserModel::CountRole).toLongLong();
    if (count < 0) return QStyledItemDelegate::paint(painter, option, index);
    const QString text = QLocale().toString(count);
    const int width = option.fontMetrics.horizontalAdvance(text) + 8;
    // The row's background (selection) over its whole width first.
    QStyleOptionViewItem full = option;
    initStyleOption(&full, index);
    full.text.clear();
    full.icon = QIcon();
    const QWidget* widget = option.widget;
    QStyle* style = widget ? widget->style() : QApplication::style();
    style->drawPrimitive(QStyle::PE_PanelItemViewItem, &full, painter, widget);
    QStyleOptionViewItem narrowed = option;
    // Leave room for the count (and the column's arrow, drawn by the view).
    narrowed.rect.setRight(option.rect.right() - width);
    QStyledItemDelegate::paint(painter, narrowed, index);
    painter->save();
    const bool selected = option.state & QStyle::State_Selected;
    painter->setPen(
        option.palette.color(selected ? QPalette::HighlightedText : QPalette::PlaceholderText));
    QRect r = option.rect;
    r.setLeft(narrowed.rect.right());
    r.setRight(option.rect.right() - 4);
    painter->drawText(r, Qt::AlignVCenter | Qt::AlignRight, text);
    painter->restore();
  }
};

}  // namespace

ColumnView::ColumnView(QWidget* parent) : QColumnView(parent) {
  setSelectionMode(QAbstractItemView::ExtendedSelection);
  setDragDropMode(QAbstractItemView::DragDrop);
  setDefaultDropAction(Qt::CopyAction);
  setDragEnabled(true);
  setAcceptDrops(true);
  setDropIndicatorShown(true);
  setResizeGripsVisible(true);
  setIconSize(QSize(16, 16));  // copied into every column
}

QAbstractItemView* ColumnView::createColumn(const QModelIndex& rootIndex) {
  QAbstractItemView* column = QColumnView::createColumn(rootIndex);
  column->setItemDelegate(new CountDelegate(column));
  column->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(column, &QWidget::customContextMenuRequested, this, [this, column](const QPoint& p) {
    emit contextMenuRequestedAt(column->viewport()->mapToGlobal(p), column->indexAt(p));
  });
  connect(column, &QAbstractItemView::doubleClicked, this, &ColumnView::openRequested);
  column->installEventFilter(this);
  column->viewport()->installEventFilter(this);
  return column;
}

bool ColumnView::eventFilter(QObject* watched, QEvent* event) {
  // Ctrl-click toggles a row and Shift-click extends to it, in its column
  // only, without changing the current item: QColumnView rebuilds the
  // columns on a new current item and keeps one selected row per column.
  if (event->type() == QEvent::MouseButtonPress || event->type() == QEvent::MouseButtonRelease) {
    auto* mouse = static_cast<QMouseEvent*>(event);
    const Qt::KeyboardModifiers mods =
        mouse->modifiers() & (Qt::ControlModifier | Qt::ShiftModifier);
    auto* column = qobject_cast<QAbstractItemView*>(watched->parent());
    if (mods && column && column->viewport() == watched && mouse->button() == Qt::LeftButton) {
      const QModelIndex index = column->indexAt(mouse->position().toPoint());
      const QModelIndex current = currentIndex();
      if (index.isValid() && current.isValid() && index.parent() == current.parent()) {
        if (event->type() == QEvent::MouseButtonPress) {
          if (mods & Qt::ShiftModifier) {
            const int a = std::min(index.row(), current.row());
            const int b = std::max(index.row(), current.row());
            selectionModel()->select(QItemSelection(model()->index(a, 0, index.parent()),
                                                    model()->index(b, 0, index.parent())),
                                     QItemSelectionModel::Select);
          } else {
            selectionModel()->select(index, QItemSelectionModel::Toggle);
          }
        }
        return true;
      }
    }
  }
  if (event->type() == QEvent::KeyPress) {
    const int key = static_cast<QKeyEvent*>(event)->key();
    auto* column = qobject_cast<QAbstractItemView*>(watched);
    if (column && (key == Qt::Key_Return || key == Qt::Key_Enter) &&
        column->currentIndex().isValid()) {
      emit openRequested(column->currentIndex());
      return true;
    }
  }
  return QColumnView::eventFilter(watched, event);
}

QAbstractItemView* ColumnView::columnFor(const QModelIndex& parent) const {
  for (QAbstractItemView* v : findChildren<QAbstractItemView*>()) {
    if (v != this && v->rootIndex() == parent && v->isVisible()) return v;
  }
  return nullptr;
}

}  // namespace ddbfs::gui
