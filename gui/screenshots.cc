// ddbfs-browser-screenshots [--meta ADDR] OUTDIR: opens the browser on the
// running cluster's demo data set (scripts/demo-data), walks it as a user
// would, and saves what the window shows as OUTDIR/browser-*.png. Run
// offscreen by scripts/browser-screenshots.

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QTest>
#include <cstdio>

#include "column_view.h"
#include "ddbfs/client_config.h"
#include "details_pane.h"
#include "main_window.h"
#include "search_bar.h"

namespace {

using ddbfs::gui::BrowserModel;
using ddbfs::gui::MainWindow;

bool WaitIdle(MainWindow& w) {
  return QTest::qWaitFor([&] { return w.model()->outstanding() == 0 && !w.details()->loading(); },
                         30000);
}

// Makes `name` (a row of parent, loaded first) the current item.
QModelIndex Choose(MainWindow& w, const QModelIndex& parent, const QString& name) {
  BrowserModel& m = *w.model();
  QModelIndex i;
  const bool found = QTest::qWaitFor(
      [&] {
        i = name.isEmpty() ? m.index(0, 0, parent) : m.childNamed(parent, name);
        if (!name.isEmpty() && !i.isValid() && m.canFetchMore(parent)) m.fetchMore(parent);
        return i.isValid();
      },
      30000);
  if (!found) {
    std::fprintf(stderr, "ddbfs-browser-screenshots: no %s (is the demo data loaded?)\n",
                 qPrintable(name));
    return {};
  }
  w.columns()->setCurrentIndex(i);
  if (!WaitIdle(w))
    std::fprintf(stderr, "ddbfs-browser-screenshots: %s still loading\n", qPrintable(name));
  QTest::qWait(200);
  return i;
}

// The first document row of parent's column.
QModelIndex FirstDocument(MainWindow& w, const QModelIndex& parent) {
  BrowserModel& m = *w.model();
  for (int r = 0; r < m.rowCount(parent); ++r) {
    QModelIndex i = m.index(r, 0, parent);
    if (m.kindOf(i) == ddbfs::gui::ModelNode::Kind::kDocument) {
      w.columns()->setCurrentIndex(i);
      if (!WaitIdle(w)) std::fprintf(stderr, "ddbfs-browser-screenshots: details still loading\n");
      QTest::qWait(300);
      return i;
    }
  }
  return {};
}

bool Save(MainWindow& w, const QString& path) {
  QTest::qWait(200);
  if (!w.grab().save(path)) {
    std::fprintf(stderr, "ddbfs-browser-screenshots: cannot write %s\n", qPrintable(path));
    return false;
  }
  std::printf("wrote %s\n", qPrintable(path));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("ddbfs-screenshots");
  QApplication::setApplicationName("ddbfs-browser");
  QCommandLineParser args;
  args.addHelpOption();
  QCommandLineOption meta("meta", "The metaserver.", "HOST:PORT");
  args.addOption(meta);
  args.addPositionalArgument("outdir", "Where the PNGs go.");
  args.process(app);
  if (args.positionalArguments().size() != 1) args.showHelp(2);
  const QDir out(args.positionalArguments()[0]);
  auto options = ddbfs::LoadClientOptions(args.value(meta).toStdString());
  if (!options.ok()) {
    std::fprintf(stderr, "ddbfs-browser-screenshots: %s\n", options.status().ToString().c_str());
    return 2;
  }
  MainWindow w(*options);
  w.resize(1500, 820);
  w.columns()->setColumnWidths({170, 210, 210, 210, 210});
  w.show();
  if (!QTest::qWaitForWindowExposed(&w) || !WaitIdle(w)) return 1;
  QTest::qWait(500);
  bool ok = true;

  // Tags → photo → place → =beach → a picture.
  BrowserModel& m = *w.model();
  QModelIndex tags = Choose(w, {}, "Tags");
  QModelIndex photo = Choose(w, tags, "photo");
  QModelIndex place = Choose(w, photo, "place");
  QModelIndex beach = Choose(w, place, "=beach");
  if (!beach.isValid() || !FirstDocument(w, beach).isValid()) return 1;
  ok &= Save(w, out.filePath("browser-tags.png"));

  // A search: unpaid invoices over 1000, the first one's PDF.
  w.runSearch("invoice and not paid and amount>1000");
  if (!WaitIdle(w)) return 1;
  if (!FirstDocument(w, m.index(3, 0)).isValid()) return 1;
  ok &= Save(w, out.filePath("browser-search.png"));

  // A syntax error, pointed at.
  w.searchBar()->field()->setText("invoice and (amount>1000 or");
  w.searchBar()->field()->setFocus();
  ok &= Save(w, out.filePath("browser-query-error.png"));
  w.searchBar()->field()->clear();

  // Folders → demo → notes → apollo → a note's text.
  QModelIndex folders = Choose(w, {}, "Folders");
  QModelIndex demo = Choose(w, folders, "demo");
  QModelIndex notes = Choose(w, demo, "notes");
  QModelIndex apollo = Choose(w, notes, "apollo");
  if (!apollo.isValid() || !FirstDocument(w, apollo).isValid()) return 1;
  ok &= Save(w, out.filePath("browser-folders.png"));
  return ok ? 0 : 1;
}
