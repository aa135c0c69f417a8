#pragma once

// The Miller columns: a QColumnView whose columns show each tag's and
// value's count at the right, hand their context-menu requests to the main
// window, and take drops (documents on a tag, files on a folder).

#include <QColumnView>

namespace ddbfs::gui {

class ColumnView : public QColumnView {
  Q_OBJECT

 public:
  explicit ColumnView(QWidget* parent = nullptr);

  // The column showing `parent`'s children, if it is open.
  QAbstractItemView* columnFor(const QModelIndex& parent) const;

 signals:
  void contextMenuRequestedAt(const QPoint& global, const QModelIndex& index);
  // Enter or a double click on a row.
  void openRequested(const QModelIndex& index);

 protected:
  QAbstractItemView* createColumn(const QModelIndex& rootIndex) override;
  bool eventFilter(QObject* watched, QEvent* event) override;
};

}  // namespace ddbfs::gui
