#include "flow_layout.h"

#include <QWidget>

namespace ddbfs::gui {

FlowLayout::FlowLayout(QWidget* parent, int spacing) : QLayout(parent), spacing_(spacing) {
  setContentsMargins(0, 0, 0, 0);
}

FlowLayout::~FlowLayout() {
  while (QLayoutItem* item = takeAt(0)) delete item;
}

// QLayout::addWidget does not invalidate: a chip added to a layout that was
// laid out before would keep its default geometry.
void FlowLayout::addItem(QLayoutItem* item) {
  items_.append(item);
  invalidate();
}
int FlowLayout::count() const { return static_cast<int>(items_.size()); }
QLayoutItem* FlowLayout::itemAt(int index) const { return items_.value(index); }
QLayoutItem* FlowLayout::takeAt(int index) {
  if (index < 0 || index >= items_.size()) return nullptr;
  invalidate();
  return items_.takeAt(index);
}
Qt::Orientations FlowLayout::expandingDirections() const { return {}; }
bool FlowLayout::hasHeightForWidth() const { return true; }
int FlowLayout::heightForWidth(int width) const { return Arrange(QRect(0, 0, width, 0), false); }
QSize FlowLayout::sizeHint() const { return minimumSize(); }

QSize FlowLayout::minimumSize() const {
  QSize size;
  for (const QLayoutItem* item : items_) size = size.expandedTo(item->minimumSize());
  const QMargins m = contentsMargins();
  return size + QSize(m.left() + m.right(), m.top() + m.bottom());
}

void FlowLayout::setGeometry(const QRect& rect) {
  QLayout::setGeometry(rect);
  Arrange(rect, true);
}

int FlowLayout::Arrange(const QRect& rect, bool apply) const {
  const QRect r = rect.marginsRemoved(contentsMargins());
  int x = r.x();
  int y = r.y();
  int line_height = 0;
  for (QLayoutItem* item : items_) {
    const QSize hint = item->sizeHint();
    if (x + hint.width() > r.right() + 1 && line_height > 0) {
      x = r.x();
      y += line_height + spacing_;
      line_height = 0;
    }
    if (apply) item->setGeometry(QRect(QPoint(x, y), hint));
    x += hint.width() + spacing_;
    line_height = std::max(line_height, hint.height());
  }
  return y + line_height - rect.y() + contentsMargins().bottom();
}

}  // namespace ddbfs::gui
