#pragma once

// The search bar: takes the query language (docs/query_language.md),
// completes tag names at the word being typed, checks the text with the
// client library's parser as it is typed and shows a syntax error with its
// column under the field; Enter runs a valid query, "Save…" saves it.

#include <QWidget>

class QAbstractItemModel;
class QLabel;
class QLineEdit;
class QPushButton;

namespace ddbfs::gui {

class SearchBar : public QWidget {
  Q_OBJECT

 public:
  SearchBar(QAbstractItemModel* tag_names, QWidget* parent = nullptr);

  QLineEdit* field() const { return field_; }
  // The column (1-based) of the current syntax error; 0 when none.
  int errorColumn() const { return error_column_; }
  QString errorText() const;
  // Checks the text now (also done as it is edited).
  bool Check();

 signals:
  void searchRequested(const QString& query);
  void saveRequested(const QString& query);

 private:
  QLineEdit* field_;
  QLabel* error_;
  QPushButton* save_;
  int error_column_ = 0;
};

}  // namespace ddbfs::gui
