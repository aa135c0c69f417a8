// ddbfs-browser [--meta HOST:PORT]: the Qt Miller-columns browser
// (docs/browser.md). Credentials come from the same client configuration as
// the CLI's (ddbfs/client_config.h).

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QMessageBox>
#include <cstdio>

#include "ddbfs/client_config.h"
#include "main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("ddbfs");
  QApplication::setApplicationName("ddbfs-browser");
  QApplication::setApplicationVersion(DDBFS_VERSION);
  QApplication::setDesktopFileName("ddbfs-browser");
  QApplication::setWindowIcon(QIcon::fromTheme("ddbfs-browser"));
  QCommandLineParser args;
  args.setApplicationDescription("DDBFS Browser: narrow a cluster's documents by tag.");
  args.addHelpOption();
  args.addVersionOption();
  QCommandLineOption meta("meta",
                          "The metaserver; several comma-separated addresses (the active one and "
                          "its standbys) are tried in turn (default: $DDBFS_META, the client "
                          "config file, then /run/ddbfs/meta.sock).",
                          "HOST:PORT");
  args.addOption(meta);
  args.process(app);
  auto options = ddbfs::LoadClientOptions(args.value(meta).toStdString());
  if (!options.ok()) {
    const std::string text = "ddbfs-browser: " + options.status().ToString();
    std::fprintf(stderr, "%s\n", text.c_str());
    QMessageBox::critical(nullptr, "DDBFS Browser", QString::fromStdString(text));
    return 2;
  }
  // A browser should say soon that the metaserver is gone (the banner), not
  // wait out the CLI's 20 s retry window; it reconnects by itself.
  options->meta_retry_ms = 2000;
  options->rpc_timeout_ms = 15000;
  ddbfs::gui::MainWindow window(*options);
  window.show();
  return app.exec();
}
