#include "pg_instance.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"

namespace ddbfs::testing {

namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin/";
constexpr char kDirPrefix[] = "ddbfs-pg-";
constexpr int kStartAttempts = 5;
constexpr auto kCommandTimeout = std::chrono::seconds(120);

// initdb and the server refuse to run as root: drop to `postgres` then.
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out{"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Describe(const CommandResult& r) {
  return "exit code " + std::to_string(r.exit_code) + "\n" + r.out + r.err;
}

// Stops and deletes servers left behind by test processes that died without
// running their exit handlers (crash, SIGKILL by a ctest timeout).
void ReapOrphans() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0) continue;
    std::ifstream owner(entry.path() / "owner.pid");
    pid_t pid = 0;
    if (!(owner >> pid) || pid <= 0) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    RunCommand(AsPostgres({std::string(kPgBin) + "pg_ctl", "-D", (entry.path() / "data").string(),
                           "-m", "immediate", "-w", "stop"}),
               "", kCommandTimeout);
    std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace

PgInstance& PgInstance::Shared() {
  static PgInstance instance;
  static std::once_flag once;
  std::call_once(once, [] { instance.Init(); });
  return instance;
}

PgInstance::~PgInstance() {
  std::lock_guard<std::mutex> lock(mu_);
  if (dir_.empty()) return;
  if (running_) {
    RunCommand(AsPostgres({std::string(kPgBin) + "pg_ctl", "-D", dir_ + "/data", "-m", "immediate",
                           "-w", "stop"}),
               "", kCommandTimeout);
    running_ = false;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PgInstance::Fail(const std::string& what, const std::string& log) {
  ADD_FAILURE() << "private PostgreSQL: " << what << "\n" << log;
  std::fprintf(stderr, "private PostgreSQL: %s\n%s\n", what.c_str(), log.c_str());
  std::fflush(stderr);
  std::abort();
}

void PgInstance::Init() {
  ReapOrphans();
  std::string templ = std::string("/tmp/") + kDirPrefix + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) Fail("mkdtemp failed", std::strerror(errno));
  {
    std::lock_guard<std::mutex> lock(mu_);
    dir_ = templ;
  }
  std::ofstream(dir_ + "/owner.pid") << ::getpid() << "\n";
  if (::geteuid() == 0) {
    CommandResult chown = RunCommand({"chown", "postgres:", dir_}, "", kCommandTimeout);
    if (chown.exit_code != 0) Fail("chown " + dir_ + " failed", Describe(chown));
  }
  // -N only skips initdb's own fsync of the new files; the server keeps fsync on.
  CommandResult init =
      RunCommand(AsPostgres({std::string(kPgBin) + "initdb", "-D", dir_ + "/data", "-U", "postgres",
                             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"}),
                 "", kCommandTimeout);
  if (init.exit_code != 0) Fail("initdb failed", Describe(init));
  // The private addresses of the network namespaces tests make
  // (tests/integration/net_hosts.h); listened on only after ListenAlso.
  std::ofstream(dir_ + "/data/pg_hba.conf", std::ios::app) << "host all all 10.99.0.0/16 trust\n";

  std::lock_guard<std::mutex> lock(mu_);
  std::string log;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    // Another process may take the port between FreePort() and the bind.
    port_ = FreePort();
    std::string error;
    if (StartLocked(&error)) return;
    log += "attempt on port " + std::to_string(port_) + ": " + error + "\n";
  }
  Fail("cannot start the server in " + dir_, log);
}

bool PgInstance::StartLocked(std::string* error) {
  const std::string listen = also_listen_.empty() ? "127.0.0.1" : "127.0.0.1," + also_listen_;
  const std::string options =
      "-c listen_addresses=" + listen + " -c port=" + std::to_string(port_) +
      " -c unix_socket_directories=" + dir_ + " -c max_connections=300 -c fsync=on";
  const std::string server_log = dir_ + "/server.log";
  CommandResult r =
      RunCommand(AsPostgres({std::string(kPgBin) + "pg_ctl", "-D", dir_ + "/data", "-l", server_log,
                             "-o", options, "-w", "-t", "60", "start"}),
                 "", kCommandTimeout);
  if (r.exit_code != 0) {
    *error = Describe(r) + "server log:\n" + ReadFile(server_log);
    // A half-started server must not keep the data dir locked.
    RunCommand(AsPostgres({std::string(kPgBin) + "pg_ctl", "-D", dir_ + "/data", "-m", "immediate",
                           "-w", "stop"}),
               "", kCommandTimeout);
    return false;
  }
  running_ = true;
  return true;
}

void PgInstance::StopLocked(bool crash) {
  if (!running_) return;
  // The shutdown checkpoint of the shared instance writes every test
  // database's dirty pages with fsync on: on a loaded machine that once took
  // longer than pg_ctl's default minute.
  CommandResult r =
      RunCommand(AsPostgres({std::string(kPgBin) + "pg_ctl", "-D", dir_ + "/data", "-m",
                             crash ? "immediate" : "fast", "-w", "-t", "300", "stop"}),
                 "", std::chrono::seconds(320));
  if (r.exit_code != 0) {
    Fail("pg_ctl stop failed", Describe(r) + "server log:\n" + ReadFile(dir_ + "/server.log"));
  }
  running_ = false;
}

void PgInstance::Stop(bool crash) {
  std::lock_guard<std::mutex> lock(mu_);
  StopLocked(crash);
}

void PgInstance::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  std::string error;
  if (!StartLocked(&error)) Fail("restart on port " + std::to_string(port_) + " failed", error);
}

void PgInstance::ListenAlso(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (address == also_listen_ && running_) return;
  StopLocked(/*crash=*/true);
  also_listen_ = address;
  std::string error;
  if (!StartLocked(&error)) Fail("restart listening also on '" + address + "' failed", error);
}

std::string PgInstance::NewDatabaseUrl() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!running_) {
    ADD_FAILURE() << "PgInstance::NewDatabaseUrl while the server is stopped";
    return "";
  }
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++next_db_);
  CommandResult r = RunCommand({std::string(kPgBin) + "psql", "-X", "-q", "-h", "127.0.0.1", "-p",
                                std::to_string(port_), "-U", "postgres", "-d", "postgres", "-v",
                                "ON_ERROR_STOP=1", "-c", "CREATE DATABASE " + name},
                               "", kCommandTimeout);
  if (r.exit_code != 0) Fail("CREATE DATABASE " + name + " failed", Describe(r));
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

}  // namespace ddbfs::testing
