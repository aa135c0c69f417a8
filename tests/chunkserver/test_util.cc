#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ddbfs::chunkserver::testing {

namespace {

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, int out_fd) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::execv(program.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", program.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

bool Reap(pid_t pid, int* status, std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return ::waitpid(pid, status, WNOHANG) == pid; }, timeout);
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = "/tmp/ddbfs-chunk-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::string& log_path)
    : log_path_(log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log_path);
  pid_ = Spawn(program, args, fd);
  ::close(fd);
}

ChildProcess::~ChildProcess() {
  if (Running()) Stop(SIGKILL);
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int ChildProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  if (!Running()) return status_;
  ::kill(pid_, sig);
  if (!Reap(pid_, &status_, timeout)) {
    ::kill(pid_, SIGKILL);
    if (!Reap(pid_, &status_, std::chrono::seconds(10))) return -1;
  }
  reaped_ = true;
  return status_;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandOutput RunToCompletion(const std::string& program, const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout) {
  TempDir dir;
  const std::string log = dir.path() + "/out";
  CommandOutput result;
  {
    ChildProcess child(program, args, log);
    int status = -1;
    // Stop() of a process that already exited only returns its status.
    if (WaitUntil([&] { return !child.Running(); }, timeout)) status = child.Stop(SIGKILL);
    if (status >= 0 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.output = child.Log();
  }
  return result;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool WaitForPort(int port, std::chrono::milliseconds timeout) {
  return WaitUntil(
      [port] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
      },
      timeout);
}

}  // namespace ddbfs::chunkserver::testing
