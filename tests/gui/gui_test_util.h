#pragma once

// Helpers of the browser's tests: waiting for the model with a deadline,
// loading a column completely, and turning QAbstractItemModelTester's
// complaints into test failures.

#include <gtest/gtest.h>

#include <QModelIndex>
#include <QString>
#include <QTest>
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "browser_model.h"
#include "ddbfs/client.h"

namespace ddbfs::gui::testing {

// Messages from QAbstractItemModelTester ("FAIL! ...") fail the running test.
inline std::atomic<int> tester_failures{0};
inline void InstallTesterFailureHandler() {
  static QtMessageHandler previous = nullptr;
  previous =
      qInstallMessageHandler([](QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
        if (msg.contains("FAIL!")) {
          ++tester_failures;
          ADD_FAILURE() << "QAbstractItemModelTester: " << msg.toStdString();
        }
        if (previous) previous(type, ctx, msg);
      });
}

// Processes events until cond() or `ms` passed; returns cond().
inline bool WaitFor(const std::function<bool()>& cond, int ms = 15000) {
  return QTest::qWaitFor(cond, ms);
}

// Fetches every page of `parent` (each phase, each page).
inline bool LoadAll(BrowserModel& m, const QModelIndex& parent, int ms = 15000) {
  return WaitFor(
      [&]() {
        if (m.outstanding() > 0) return false;
        if (!m.canFetchMore(parent)) return true;
        m.fetchMore(parent);
        return false;
      },
      ms);
}

// The display names of parent's rows.
inline std::vector<std::string> Names(const BrowserModel& m, const QModelIndex& parent) {
  std::vector<std::string> out;
  for (int r = 0; r < m.rowCount(parent); ++r) {
    out.push_back(m.index(r, 0, parent).data().toString().toStdString());
  }
  return out;
}

inline int64_t CountOf(const QModelIndex& i) {
  return i.data(BrowserModel::CountRole).toLongLong();
}

// Creates `path` (its folders must exist) holding `data`, with `tags`.
inline Result<Attr> PutTagged(Client& c, const std::string& path, const std::string& data,
                              const std::vector<Tag>& tags) {
  const size_t slash = path.rfind('/');
  ASSIGN_OR_RETURN(Attr dir, c.ResolvePath(slash == 0 ? "/" : path.substr(0, slash)));
  ASSIGN_OR_RETURN(CreatedFile f, c.CreateForWrite(dir.inode, path.substr(slash + 1), 0644,
                                                   std::nullopt, std::nullopt, tags));
  if (!data.empty()) {
    RETURN_IF_ERROR(f.writer->Write(0, std::span<const char>(data.data(), data.size())));
  }
  RETURN_IF_ERROR(f.writer->Close());
  return c.GetAttr(f.attr.inode);
}

inline Tag T(const std::string& name) { return Tag{name, std::nullopt}; }
inline Tag T(const std::string& name, const std::string& value) { return Tag{name, value}; }

}  // namespace ddbfs::gui::testing
