// ddbfs-mount: mounts a DDBFS cluster with FUSE. docs/fuse.md.
//
//   ddbfs-mount [--meta ADDR] MOUNTPOINT [-o OPT[,OPT...]] [-f] [-d] [-s]

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/client_config.h"
#include "ddbfs/heap.h"
#include "ddbfs/log.h"
#include "fs.h"
#include "syslog_forward.h"

namespace ddbfs::fuse {
namespace {

constexpr char kUsage[] =
    "usage: ddbfs-mount [--meta ADDR] MOUNTPOINT [-o OPT[,OPT...]] [-f] [-d] [-s]\n"
    "\n"
    "Mounts the DDBFS cluster at MOUNTPOINT (an existing, empty folder).\n"
    "\n"
    "  --meta ADDR          metaserver: HOST:PORT or unix:/path, or several comma-separated\n"
    "                       (the active one and its standbys; default: as the ddbfs CLI:\n"
    "                       $DDBFS_META, the client config, /run/ddbfs/meta.sock)\n"
    "  -f                   stay in the foreground (default: detach, log to syslog)\n"
    "  -d                   foreground, with libfuse's request trace on stderr\n"
    "  -s                   single-threaded\n"
    "  --log-level LEVEL    debug|info|warn|error (default info)\n"
    "  -o ro                read-only mount\n"
    "  -o allow_other       other users may use the mount (root, or user_allow_other\n"
    "                       in /etc/fuse.conf); the kernel checks permissions\n"
    "  -o attr_timeout=S    seconds the kernel caches attributes (default 1)\n"
    "  -o entry_timeout=S   seconds the kernel caches names (default 1)\n"
    "  -o negative_timeout=S  seconds the kernel caches that a name does not exist\n"
    "                       (default 0: not cached)\n"
    "  -o io_timeout=S      seconds a request waits for an unreachable metaserver or a\n"
    "                       silent server before it fails with EIO (default 60)\n"
    "  -o max_threads=N     request threads (default 10)\n"
    "  -o fsname=NAME       source shown by mount and df (default ddbfs)\n"
    "  -o relatime          a read updates atime if not after mtime/ctime or a day old\n"
    "                       (default); strictatime (norelatime): at every first read\n"
    "                       through a descriptor; noatime: never\n"
    "  also: allow_root, auto_unmount, nosuid, suid, nodev, dev, noexec, exec,\n"
    "        nodiratime, async, sync, dirsync, rw\n"
    "\n"
    "default_permissions is always on. Unmount with: fusermount3 -u MOUNTPOINT\n";

struct Args {
  std::string meta;
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  bool single_thread = false;
  std::string log_level = "info";
  MountOptions mount;
  unsigned max_threads = 10;
  std::string fsname = "ddbfs";
  std::vector<std::string> fuse_opts;  // handed to libfuse
};

[[noreturn]] void Die(int code, const std::string& line) {
  std::fprintf(stderr, "ddbfs-mount: %s\n", line.c_str());
  std::exit(code);
}

bool ParseSeconds(const std::string& text, double* out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || v < 0 || v > 86400) return false;
  *out = v;
  return true;
}

void ParseOption(const std::string& opt, Args* a) {
  const size_t eq = opt.find('=');
  const std::string key = opt.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
  if (key == "attr_timeout" || key == "entry_timeout" || key == "negative_timeout") {
    double* target = key == "attr_timeout"    ? &a->mount.attr_timeout
                     : key == "entry_timeout" ? &a->mount.entry_timeout
                                              : &a->mount.negative_timeout;
    if (!ParseSeconds(value, target)) {
      Die(2, "-o " + opt + ": give seconds between 0 and 86400, e.g. " + key + "=1");
    }
  } else if (key == "io_timeout") {
    if (!ParseSeconds(value, &a->mount.io_timeout) || a->mount.io_timeout < 1) {
      Die(2, "-o " + opt + ": give seconds between 1 and 86400, e.g. io_timeout=60");
    }
  } else if (key == "max_threads") {
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 1 || n > 256) {
      Die(2, "-o " + opt + ": give a number of threads between 1 and 256");
    }
    a->max_threads = static_cast<unsigned>(n);
  } else if (key == "fsname") {
    if (value.empty() || value.find_first_of(",\\") != std::string::npos) {
      Die(2, "-o " + opt + ": give a name without commas or backslashes");
    }
    a->fsname = value;
  } else if (key == "default_permissions") {
    // always on
  } else if (key == "ro") {
    a->mount.read_only = true;
    a->fuse_opts.push_back("ro");
  } else if (key == "rw") {
    a->mount.read_only = false;
    std::erase(a->fuse_opts, std::string("ro"));
  } else if (eq == std::string::npos && (key == "noatime" || key == "relatime" ||
                                         key == "norelatime" || key == "strictatime")) {
    // The kernel leaves atime to a FUSE file system (its inodes are
    // S_NOATIME): the mount updates it. Only noatime goes on to libfuse (it
    // shows in /proc/mounts); libfuse 3.14 refuses relatime and strictatime.
    a->mount.atime = key == "noatime"    ? AtimeUpdates::kNever
                     : key == "relatime" ? AtimeUpdates::kRelatime
                                         : AtimeUpdates::kStrict;
    std::erase(a->fuse_opts, std::string("noatime"));
    if (key == "noatime") a->fuse_opts.push_back(key);
  } else if (eq == std::string::npos &&
             (key == "allow_other" || key == "allow_root" || key == "auto_unmount" ||
              key == "nosuid" || key == "suid" || key == "nodev" || key == "dev" ||
              key == "noexec" || key == "exec" || key == "nodiratime" || key == "async" ||
              key == "sync" || key == "dirsync")) {
    a->fuse_opts.push_back(key);
  } else {
    Die(2, "unknown mount option '" + opt + "' — see ddbfs-mount --help");
  }
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (i + 1 >= argc) Die(2, flag + " needs a value — see ddbfs-mount --help");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "-V" || arg == "--version") {
      std::printf("ddbfs-mount %s (libfuse %s)\n", DDBFS_VERSION, fuse_pkgversion());
      std::exit(0);
    } else if (arg == "--meta") {
      a.meta = value(arg);
    } else if (arg.rfind("--meta=", 0) == 0) {
      a.meta = arg.substr(7);
    } else if (arg == "--log-level") {
      a.log_level = value(arg);
    } else if (arg == "-f") {
      a.foreground = true;
    } else if (arg == "-d") {
      a.foreground = true;
      a.debug = true;
    } else if (arg == "-s") {
      a.single_thread = true;
    } else if (arg == "-o" || (arg.rfind("-o", 0) == 0 && arg.size() > 2)) {
      std::string list = arg == "-o" ? value(arg) : arg.substr(2);
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        const std::string opt = list.substr(start, comma - start);
        if (!opt.empty()) ParseOption(opt, &a);
        start = comma + 1;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      Die(2, "unknown flag '" + arg + "' — see ddbfs-mount --help");
    } else if (a.mountpoint.empty()) {
      a.mountpoint = arg;
    } else {
      Die(2, "unexpected argument '" + arg + "' — give one MOUNTPOINT");
    }
  }
  if (a.mountpoint.empty()) Die(2, "give a MOUNTPOINT — see ddbfs-mount --help");
  return a;
}

// The absolute mount point, or one clear line and exit 2.
std::string CheckMountpoint(const std::string& given) {
  char resolved[PATH_MAX];
  if (::realpath(given.c_str(), resolved) == nullptr) {
    const int err = errno;
    if (err == ENOENT) Die(2, "mount point " + given + " does not exist — create it with mkdir");
    if (err == ENOTCONN) {
      Die(2, "mount point " + given + " is a dead mount — unmount it with fusermount3 -u " + given);
    }
    Die(2, "mount point " + given + ": " + std::strerror(err));
  }
  struct stat st;
  if (::stat(resolved, &st) != 0) Die(2, "mount point " + given + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) Die(2, "mount point " + given + " is not a directory");
  DIR* d = ::opendir(resolved);
  if (d == nullptr) Die(2, "mount point " + given + ": " + std::strerror(errno));
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) Die(2, "mount point " + given + " is not empty — mount on an empty folder");
  return resolved;
}

std::unique_ptr<Client> ConnectOrExplain(const std::string& meta, double io_timeout_s,
                                         std::string* error) {
  Result<ClientOptions> opts = LoadClientOptions(meta);
  if (!opts.ok()) {
    *error = opts.status().ToString();
    return nullptr;
  }
  // Every request is bounded: it retries an unreachable metaserver for at
  // most io_timeout and waits at most that long for any one answer.
  const int bound_ms = static_cast<int>(io_timeout_s * 1000);
  opts->meta_retry_ms = bound_ms;
  opts->rpc_timeout_ms = std::min(opts->rpc_timeout_ms, bound_ms);
  Result<std::unique_ptr<Client>> c = Client::Connect(*opts);
  if (!c.ok()) {
    *error = c.status().ToString();
    return nullptr;
  }
  return std::move(c).value();
}

int Main(int argc, char** argv) {
  const bool heap_tuned = KeepLargeBuffersInHeap();
  Args a = ParseArgs(argc, argv);
  SetLogProgram("ddbfs-mount");
  if (!heap_tuned) {
    LOG(kWarn) << "the C library refused the heap settings for 4 MiB pieces";
  }
  LogLevel level;
  if (!ParseLogLevel(a.log_level, &level)) {
    Die(2, "--log-level " + a.log_level + ": give debug, info, warn or error");
  }
  SetLogLevel(level);
  const std::string mountpoint = CheckMountpoint(a.mountpoint);

  // Connect before mounting so that a wrong address is one line here, not
  // a mount that fails every request.
  std::string error;
  std::unique_ptr<Client> client = ConnectOrExplain(a.meta, a.mount.io_timeout, &error);
  if (!client) Die(1, error);
  Result<Attr> root = client->ResolvePath("/");
  if (!root.ok()) Die(1, "reading / of the cluster: " + root.status().ToString());

  a.mount.mountpoint = mountpoint;
  FileSystem fs(client.get(), root->inode, a.mount);
  std::vector<std::string> argv_fuse = {"ddbfs-mount"};
  std::string opts = "default_permissions,subtype=ddbfs,fsname=" + a.fsname;
  for (const std::string& o : a.fuse_opts) opts += "," + o;
  argv_fuse.push_back("-o");
  argv_fuse.push_back(opts);
  if (a.debug) argv_fuse.push_back("-d");
  std::vector<char*> cargv;
  for (std::string& s : argv_fuse) cargv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  fuse_session* se = fuse_session_new(&args, &FileSystem::Ops(), sizeof(fuse_lowlevel_ops), &fs);
  if (se == nullptr) Die(1, "cannot start a FUSE session (see the line above)");
  if (fuse_set_signal_handlers(se) != 0) Die(1, "cannot install signal handlers");
  if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
    Die(1, "cannot mount at " + mountpoint + " (see the line above; is /dev/fuse there?)");
  }
  if (!a.foreground) {
    // Threads and sockets do not survive fork: connect again afterwards.
    client.reset();
    if (fuse_daemonize(0) != 0) Die(1, "cannot detach");
    ForwardStderrToSyslog("ddbfs-mount");
    client = ConnectOrExplain(a.meta, a.mount.io_timeout, &error);
    if (!client) {
      LOG(kError) << "after detaching: " << error;
      fuse_session_unmount(se);
      return 1;
    }
    fs.SetClient(client.get());
  }
  fs.SetSession(se);
  LOG(kInfo) << "mounted " << (a.meta.empty() ? client->options().meta_address : a.meta) << " at "
             << mountpoint << (a.mount.read_only ? " read-only" : "");

  int ret;
  if (a.single_thread) {
    ret = fuse_session_loop(se);
  } else {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, a.max_threads);
    ret = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
  }
  fs.SetSession(nullptr);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  LOG(kInfo) << "unmounted " << mountpoint;
  return ret < 0 ? 1 : 0;  // > 0: stopped by that signal
}

}  // namespace
}  // namespace ddbfs::fuse

int main(int argc, char** argv) { return ddbfs::fuse::Main(argc, argv); }
