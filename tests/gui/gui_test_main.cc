// main() of gui_test: a QApplication (offscreen unless QT_QPA_PLATFORM says
// otherwise), settings kept out of the user's own, then GoogleTest.

#include <gtest/gtest.h>

#include <QApplication>
#include <QStandardPaths>

#include "gui_test_util.h"

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  QApplication::setOrganizationName("ddbfs-test");
  QApplication::setApplicationName("ddbfs-browser-test");
  ddbfs::gui::testing::InstallTesterFailureHandler();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
