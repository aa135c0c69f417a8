// The `ddbfs` program: global options, the command table, help, usage
// errors, and dispatch.

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>

#include "command.h"
#include "ddbfs/heap.h"
#include "ddbfs/log.h"

#ifndef DDBFS_VERSION
#define DDBFS_VERSION "unknown"
#endif

namespace ddbfs::cli {

namespace {

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int UsageFailure(const std::string& command, const std::string& message) {
  std::string line = "ddbfs: ";
  if (!command.empty()) line += command + ": ";
  line += OneLine(message) + " — see ddbfs help" + (command.empty() ? "" : " " + command);
  std::cerr << line << std::endl;
  return 2;
}

// The topic of `ddbfs [global options] help [TOPIC]` ("" for none), or
// nullopt when the command is not `help`.
std::optional<std::string> HelpTopic(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--meta") {
      ++i;
      continue;
    }
    if (a.starts_with("-")) continue;
    if (a != "help") return std::nullopt;
    return i + 1 < argc ? std::string(argv[i + 1]) : std::string();
  }
  return std::nullopt;
}

}  // namespace

std::vector<Command> AllCommands() {
  return {AddCommand(),    GetCommand(),     CatCommand(),     LsCommand(),      MkdirCommand(),
          RmCommand(),     MvCommand(),      InfoCommand(),    StatusCommand(),  ChmodCommand(),
          ChownCommand(),  TagCommand(),     UntagCommand(),   TagsCommand(),    QueryCommand(),
          DupesCommand(),  PropsetCommand(), PropgetCommand(), PropdelCommand(), KeyCommand(),
          WhoAmICommand(), FsckCommand(),    GoalCommand(),    ServerCommand(),  BackupCommand(),
          RestoreCommand()};
}

int Main(int argc, char** argv) {
  // `add` and `get` of large files move 4 MiB pieces (ddbfs/heap.h); a
  // refusal only makes them slower, so it is not reported.
  (void)KeepLargeBuffersInHeap();
  SetLogProgram("ddbfs");
  // The library's warnings (replica failover) are not failures of the
  // command; DDBFS_LOG_LEVEL=warn shows them.
  LogLevel level = LogLevel::kError;
  if (const char* env = std::getenv("DDBFS_LOG_LEVEL")) ParseLogLevel(env, &level);
  SetLogLevel(level);

  CLI::App app{"DDBFS: a document-oriented distributed file system.", "ddbfs"};
  app.set_version_flag("--version", std::string("ddbfs ") + DDBFS_VERSION);
  app.fallthrough();
  app.footer(
      "Run `ddbfs help COMMAND` (or `ddbfs COMMAND --help`) for a command's options.\n"
      "The metaserver is --meta, else $DDBFS_META, else `meta = HOST:PORT` in $DDBFS_CONFIG,\n"
      "~/.config/ddbfs/client.conf or /etc/ddbfs/client.conf, else 127.0.0.1:9400. Several\n"
      "comma-separated addresses (the active metaserver and its standbys) are tried in turn.");
  GlobalOptions globals;
  app.add_option("--meta", globals.meta,
                 "metaserver address HOST:PORT or unix:/path; several, comma-separated");
  app.add_flag("-q,--quiet", globals.quiet, "no progress or summary output");

  std::map<const CLI::App*, Runner> runners;
  for (auto& cmd : AllCommands()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    for (const auto& a : cmd.aliases) sub->alias(a);
    runners[sub] = cmd.setup(sub);
  }
  app.add_subcommand("help", "show help for ddbfs or one command (help COMMAND)");

  // `ddbfs help [COMMAND]` is answered before CLI11 parses: it would read
  // the topic as that command being run.
  if (std::optional<std::string> topic = HelpTopic(argc, argv)) {
    if (topic->empty()) {
      std::cout << app.help();
      return 0;
    }
    for (const auto& [cmd, runner] : runners) {
      if (cmd->check_name(*topic)) {
        std::cout << cmd->help("ddbfs");
        return 0;
      }
    }
    return UsageFailure("", "unknown command '" + *topic + "'");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const std::string name = e.get_name();
    if (name == "CallForHelp" || name == "CallForAllHelp" || name == "CallForVersion") {
      return app.exit(e);
    }
    auto selected = app.get_subcommands();
    return UsageFailure(selected.empty() ? "" : selected.front()->get_name(), e.what());
  }

  auto selected = app.get_subcommands();
  if (selected.empty()) {
    std::cerr << app.help();
    return 2;
  }
  CLI::App* sub = selected.front();
  Context ctx(sub->get_name(), globals);
  try {
    int code = runners.at(sub)(ctx);
    return code != 0 ? code : ctx.exit_code();
  } catch (const UsageError& e) {
    return UsageFailure(sub->get_name(), e.message);
  }
}

}  // namespace ddbfs::cli
