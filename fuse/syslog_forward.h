#pragma once

namespace ddbfs::fuse {

// Sends everything written to stderr from now on (the log lines of
// ddbfs/log.h, one per line) to syslog under `ident`, with the priority of
// the line's level letter. For a detached mount, whose stderr is /dev/null.
// Returns false (and changes nothing) if it cannot.
bool ForwardStderrToSyslog(const char* ident);

}  // namespace ddbfs::fuse
