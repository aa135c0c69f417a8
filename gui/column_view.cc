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

// Draws a row as usual, its document count (tags, values) right-aligned.
class CountDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;

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
