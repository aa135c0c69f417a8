#include "search_bar.h"

#include <QCompleter>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "ddbfs/query.h"
#include "query_text.h"

namespace ddbfs::gui {

namespace {

// Where the word under completion starts: after the last space, '(' or
// operator character before the cursor.
int WordStart(const QString& text) {
  int i = static_cast<int>(text.size());
  while (i > 0 && !QString(" ()=!<>").contains(text[i - 1])) --i;
  return i;
}

// Completes the last word of the query, keeping what comes before it.
class WordCompleter : public QCompleter {
 public:
  WordCompleter(QAbstractItemModel* model, QLineEdit* field)
      : QCompleter(model, field), field_(field) {}

  QStringList splitPath(const QString& path) const override { return {path.mid(WordStart(path))}; }
  QString pathFromIndex(const QModelIndex& index) const override {
    const QString text = field_->text();
    return text.left(WordStart(text)) + QCompleter::pathFromIndex(index);
  }

 private:
  QLineEdit* field_;
};

}  // namespace

SearchBar::SearchBar(QAbstractItemModel* tag_names, QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  auto* row = new QHBoxLayout;
  field_ = new QLineEdit;
  field_->setObjectName("search");
  field_->setClearButtonEnabled(true);
  field_->setPlaceholderText(tr("Query: photo and year>=2020 and not draft   (Ctrl+F)"));
  auto* completer = new WordCompleter(tag_names, field_);
  completer->setCaseSensitivity(Qt::CaseInsensitive);
  field_->setCompleter(completer);
  save_ = new QPushButton(tr("Save…"));
  save_->setObjectName("saveQuery");
  save_->setToolTip(tr("Save this query in the cluster (every client sees it)"));
  row->addWidget(field_, 1);
  row->addWidget(save_);
  error_ = new QLabel;
  error_->setObjectName("searchError");
  error_->setStyleSheet("color: #b00020;");
  error_->setTextFormat(Qt::PlainText);
  error_->hide();
  outer->addLayout(row);
  outer->addWidget(error_);
  connect(field_, &QLineEdit::textChanged, this, [this]() { Check(); });
  connect(field_, &QLineEdit::returnPressed, this, [this]() {
    if (Check() && !field_->text().trimmed().isEmpty()) emit searchRequested(field_->text());
  });
  connect(save_, &QPushButton::clicked, this, [this]() {
    if (Check() && !field_->text().trimmed().isEmpty()) emit saveRequested(field_->text());
  });
}

bool SearchBar::Check() {
  const QString text = field_->text();
  if (text.trimmed().isEmpty()) {
    error_column_ = 0;
    error_->hide();
    return true;
  }
  auto parsed = query::Parse(text.toStdString());
  if (parsed.ok()) {
    error_column_ = 0;
    error_->hide();
    return true;
  }
  const std::string message = parsed.status().message();
  error_column_ = ErrorColumn(message);
  // A caret under the column, in the field's font, then the message.
  QString caret;
  if (error_column_ > 0) {
    const int x = field_->fontMetrics().horizontalAdvance(text.left(error_column_ - 1));
    caret =
        QString(" ").repeated(x / std::max(1, error_->fontMetrics().horizontalAdvance(' '))) + "^ ";
  }
  error_->setText(caret + QString::fromStdString(message));
  error_->show();
  return false;
}

QString SearchBar::errorText() const { return error_->isVisible() ? error_->text() : QString(); }

}  // namespace ddbfs::gui
