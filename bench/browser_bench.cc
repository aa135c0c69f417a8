// browser_bench: how long the browser's columns take to show on a big
// cluster (issue 10: under 300 ms each at 1,000,000 documents), measured
// through the browser's own model and backend (gui/browser_model.h), not
// the widgets: the time from asking a column for its rows (fetchMore, as
// the view does) to the rows being in the model.
//
//   browser_bench [--meta ADDR] [--runs 20] [--tag1 important] [--tag2 t100]
//                 [--values year]
//
// Per run, with a fresh model: the Tags column (first page: 1,000 tags
// with their counts), the column of --tag1 (its co-occurring tags with
// counts within it, then its documents), the 2-tag column of --tag1 and
// --tag2 (the same within both), and the values column of the valued tag
// --values. Prints the median and the 99th percentile of each, for the
// first rows shown and for the first documents (reached after every page of
// co-occurring tags, as when scrolling down). Use the data of
// bench/tag_load.cc (bench/README.md).

#include <QCoreApplication>
#include <QEventLoop>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "browser_model.h"
#include "ddbfs/client_config.h"

namespace {

using Clock = std::chrono::steady_clock;
using ddbfs::gui::Backend;
using ddbfs::gui::BrowserModel;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Runs the event loop until cond() (false after 60 s).
bool Wait(const std::function<bool()>& cond) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!cond()) {
    if (Clock::now() > deadline) return false;
    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 20);
  }
  return true;
}

struct Timing {
  double first_rows = 0;       // ms until the column shows its first rows
  double first_documents = 0;  // ms until its first document rows are in
};

bool HasDocument(BrowserModel& m, const QModelIndex& parent) {
  for (int r = m.rowCount(parent); r-- > 0;) {
    const auto kind = m.kindOf(m.index(r, 0, parent));
    if (kind == ddbfs::gui::ModelNode::Kind::kDocument ||
        kind == ddbfs::gui::ModelNode::Kind::kFolder) {
      return true;
    }
  }
  return false;
}

// Asks for `parent`'s rows (fetchMore, as the view does) and times the
// first rows; then goes on asking, as a user scrolling down would, until the
// first documents are in (after every page of co-occurring tags).
bool TimeColumn(BrowserModel& m, const QModelIndex& parent, Timing* t) {
  const auto t0 = Clock::now();
  m.fetchMore(parent);
  if (!Wait([&] {
        return m.rowCount(parent) > 0 || (m.outstanding() == 0 && !m.canFetchMore(parent));
      })) {
    return false;
  }
  t->first_rows = MsSince(t0);
  while (!HasDocument(m, parent)) {
    if (!Wait([&] { return m.outstanding() == 0; })) return false;
    if (HasDocument(m, parent) || !m.canFetchMore(parent)) break;
    m.fetchMore(parent);
  }
  t->first_documents = MsSince(t0);
  return true;
}

// The row `name` of parent, fetching further pages of it if needed.
QModelIndex Find(BrowserModel& m, const QModelIndex& parent, const std::string& name) {
  while (true) {
    QModelIndex i = m.childNamed(parent, QString::fromStdString(name));
    if (i.isValid() || !m.canFetchMore(parent)) return i;
    m.fetchMore(parent);
    if (!Wait([&] { return m.outstanding() == 0; })) return {};
  }
}

void Print(const std::string& name, std::vector<double> v, int rows) {
  std::sort(v.begin(), v.end());
  const double median = v[(v.size() - 1) / 2];
  const double p99 = v[std::min(v.size() - 1, static_cast<size_t>(v.size() * 0.99))];
  std::printf("%-52s median %8.1f ms   p99 %8.1f ms   (%d rows)\n", name.c_str(), median, p99,
              rows);
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  CLI::App cli{"browser_bench: time the browser's columns through its model"};
  std::string meta;
  int runs = 20;
  std::string tag1 = "important";
  std::string tag2 = "t100";
  std::string values = "year";
  cli.add_option("--meta", meta, "metaserver (default: as the CLI finds it)");
  cli.add_option("--runs", runs, "runs of each column")->check(CLI::PositiveNumber);
  cli.add_option("--tag1", tag1, "the first tag chosen");
  cli.add_option("--tag2", tag2, "the second tag chosen (in tag1's column)");
  cli.add_option("--values", values, "a valued tag whose values column is timed");
  CLI11_PARSE(cli, argc, argv);

  auto options = ddbfs::LoadClientOptions(meta);
  if (!options.ok()) {
    std::fprintf(stderr, "browser_bench: %s\n", options.status().ToString().c_str());
    return 1;
  }
  Backend backend(*options);
  std::map<std::string, std::vector<double>> times;
  std::map<std::string, int> rows;
  for (int r = 0; r < runs + 1; ++r) {  // run 0 connects and warms up: not counted
    BrowserModel m(&backend);
    Timing t;
    const QModelIndex tags = m.tagsIndex();
    if (!TimeColumn(m, tags, &t)) {
      std::fprintf(stderr, "browser_bench: the Tags column did not load\n");
      return 1;
    }
    auto note = [&](const std::string& name, const Timing& tm, const QModelIndex& column) {
      if (r == 0) return;
      times[name + ": first rows"].push_back(tm.first_rows);
      times[name + ": first documents"].push_back(tm.first_documents);
      rows[name + ": first rows"] = m.rowCount(column);
      rows[name + ": first documents"] = m.rowCount(column);
    };
    note("Tags column", t, tags);
    const QModelIndex one = Find(m, tags, tag1);
    if (!one.isValid()) {
      std::fprintf(stderr, "browser_bench: no tag %s\n", tag1.c_str());
      return 1;
    }
    if (!TimeColumn(m, one, &t)) return 1;
    note("column of " + tag1, t, one);
    const QModelIndex two = Find(m, one, tag2);
    if (!two.isValid()) {
      std::fprintf(stderr, "browser_bench: no tag %s among %s's\n", tag2.c_str(), tag1.c_str());
      return 1;
    }
    if (!TimeColumn(m, two, &t)) return 1;
    note("2-tag column " + tag1 + " and " + tag2, t, two);
    const QModelIndex valued = Find(m, tags, values);
    if (valued.isValid()) {
      if (!TimeColumn(m, valued, &t)) return 1;
      note("values column of " + values, t, valued);
    }
  }
  std::printf("browser_bench: %d runs, page size %d\n", runs, BrowserModel::kDefaultPageSize);
  for (const auto& [name, v] : times) Print(name, v, rows[name]);
  return 0;
}
