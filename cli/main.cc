// ddbfs: the command line client (see docs/cli.md).

#include "command.h"

int main(int argc, char** argv) { return ddbfs::cli::Main(argc, argv); }
