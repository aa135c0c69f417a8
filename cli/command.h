#pragma once

// The command table of `ddbfs`: each command declares its options on its
// CLI11 subcommand and returns the function that runs it.

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.h"

namespace ddbfs::cli {

// Runs a parsed command; returns the process exit code.
using Runner = std::function<int(Context&)>;

struct Command {
  std::string name;
  std::vector<std::string> aliases;
  std::string summary;
  // Adds the command's options and arguments to `app` (bound to state the
  // returned Runner owns).
  std::function<Runner(CLI::App* app)> setup;
};

// One per file (or small group of files).
Command AddCommand();
Command GetCommand();
Command CatCommand();
Command LsCommand();
Command MkdirCommand();
Command RmCommand();
Command MvCommand();
Command InfoCommand();
Command StatusCommand();
Command KeyCommand();
Command ChmodCommand();
Command ChownCommand();
Command WhoAmICommand();
Command TagCommand();
Command UntagCommand();
Command TagsCommand();
Command QueryCommand();
Command DupesCommand();
Command FsckCommand();
Command GoalCommand();
Command ServerCommand();
Command BackupCommand();
Command RestoreCommand();
Command PropsetCommand();
Command PropgetCommand();
Command PropdelCommand();

// Every command in help order.
std::vector<Command> AllCommands();

// Entry point of the program.
int Main(int argc, char** argv);

}  // namespace ddbfs::cli
