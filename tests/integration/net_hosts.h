#pragma once

// Several "hosts" on one machine for a test: one network namespace per host,
// each joined to a bridge in the root namespace by a veth pair, on a private
// /24 that no interface of the machine uses (10.99.N.0/24). The metaserver
// and the test's clients stay in the root namespace and reach the hosts
// through the bridge (10.99.N.1); host i has 10.99.N.(11 + i). A host is cut
// off by taking the root end of its veth down.
//
// Only interfaces and namespaces that this class creates are touched, all
// named after the test's pid; the destructor removes them (also after a
// failed assertion), and Create() first removes those left by a test process
// that no longer exists. Needs root and iproute2 (`ip`). Not thread-safe.

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"

namespace ddbfs::testing {

class NetHosts {
 public:
  // Creates `hosts` namespaces; ADD_FAILURE and nullptr if it cannot.
  static std::unique_ptr<NetHosts> Create(int hosts) {
    RemoveLeftovers();
    std::unique_ptr<NetHosts> n(new NetHosts());
    n->tag_ = std::to_string(::getpid());
    n->subnet_ = FreeSubnet();
    if (n->subnet_ < 0) {
      ADD_FAILURE() << "no free 10.99.N.0/24 for the test's hosts";
      return nullptr;
    }
    if (!n->Ip({"link", "add", n->bridge(), "type", "bridge"})) return nullptr;
    n->bridge_made_ = true;
    if (!n->Ip({"addr", "add", n->bridge_address() + "/24", "dev", n->bridge()}) ||
        !n->Ip({"link", "set", n->bridge(), "up"})) {
      return nullptr;
    }
    for (int i = 0; i < hosts; ++i) {
      const std::string ns = n->ns(i);
      if (!n->Ip({"netns", "add", ns})) return nullptr;
      n->namespaces_.push_back(ns);
      if (!n->Ip({"link", "add", n->outer(i), "type", "veth", "peer", "name", n->inner(i)})) {
        return nullptr;
      }
      n->veths_.push_back(n->outer(i));
      if (!n->Ip({"link", "set", n->inner(i), "netns", ns}) ||
          !n->Ip({"link", "set", n->outer(i), "master", n->bridge()}) ||
          !n->Ip({"link", "set", n->outer(i), "up"}) ||
          !n->Ip({"-n", ns, "addr", "add", n->host_address(i) + "/24", "dev", n->inner(i)}) ||
          !n->Ip({"-n", ns, "link", "set", n->inner(i), "up"}) ||
          !n->Ip({"-n", ns, "link", "set", "lo", "up"})) {
        return nullptr;
      }
    }
    return n;
  }

  ~NetHosts() {
    // Deleting the root end of a veth deletes its peer; a namespace goes
    // once no process is left in it (the cluster is stopped before this).
    for (const std::string& v : veths_) RunCommand({"ip", "link", "del", v});
    for (const std::string& ns : namespaces_) RunCommand({"ip", "netns", "del", ns});
    if (bridge_made_) RunCommand({"ip", "link", "del", bridge()});
  }

  int hosts() const { return static_cast<int>(namespaces_.size()); }
  // The root namespace's address on the bridge (where the metaserver serves).
  std::string bridge_address() const { return Address(1); }
  std::string host_address(int i) const { return Address(11 + i); }
  // Runs a program inside host i's namespace (`ip netns exec` execs it).
  std::vector<std::string> wrapper(int i) const { return {"/sbin/ip", "netns", "exec", ns(i)}; }

  // Cuts host i off (its veth's root end down) or connects it again.
  bool SetLink(int i, bool up) { return Ip({"link", "set", outer(i), up ? "up" : "down"}); }

 private:
  NetHosts() = default;

  // Names under IFNAMSIZ (15): "dh" + pid (at most 7 digits) + suffix.
  std::string bridge() const { return "dh" + tag_ + "br"; }
  std::string outer(int i) const { return "dh" + tag_ + "o" + std::to_string(i); }
  std::string inner(int i) const { return "dh" + tag_ + "i" + std::to_string(i); }
  std::string ns(int i) const { return "ddbfs-h" + tag_ + "-" + std::to_string(i); }
  std::string Address(int last) const {
    return "10.99." + std::to_string(subnet_) + "." + std::to_string(last);
  }

  bool Ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    CommandResult r = RunCommand(args, "", std::chrono::seconds(20));
    if (r.exit_code != 0) {
      std::string cmd;
      for (const std::string& a : args) cmd += a + " ";
      ADD_FAILURE() << cmd << "failed: " << r.err;
      return false;
    }
    return true;
  }

  // A 10.99.N.0/24 with no address of this namespace in it.
  static int FreeSubnet() {
    CommandResult r = RunCommand({"ip", "-4", "-o", "addr", "show"});
    if (r.exit_code != 0) return -1;
    for (int k = 0; k < 200; ++k) {
      const int n = 20 + (static_cast<int>(::getpid()) + k) % 200;
      if (r.out.find(" 10.99." + std::to_string(n) + ".") == std::string::npos) return n;
    }
    return -1;
  }

  // The pid in a name made by this class ("dh<pid>..." or "ddbfs-h<pid>-<i>"),
  // or -1.
  static long PidOf(const std::string& name) {
    std::string digits;
    size_t start = name.rfind("ddbfs-h", 0) == 0 ? 7 : name.rfind("dh", 0) == 0 ? 2 : name.size();
    for (size_t i = start; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]));
         ++i) {
      digits += name[i];
    }
    return digits.empty() || start == name.size() ? -1 : std::stol(digits);
  }

  static bool Gone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0; }

  // Namespaces and links this class made for test processes that are gone
  // (a test killed before its destructor ran).
  static void RemoveLeftovers() {
    std::istringstream links(RunCommand({"ip", "-o", "link", "show"}).out);
    for (std::string line; std::getline(links, line);) {
      // "12: dh123o0@if11: <...>": the name ends at '@' or ':'.
      const size_t colon = line.find(": ");
      if (colon == std::string::npos) continue;
      std::string name = line.substr(colon + 2);
      name = name.substr(0, name.find_first_of("@:"));
      if (name.rfind("dh", 0) == 0 && Gone(PidOf(name))) RunCommand({"ip", "link", "del", name});
    }
    std::istringstream spaces(RunCommand({"ip", "netns", "list"}).out);
    for (std::string line; std::getline(spaces, line);) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind("ddbfs-h", 0) == 0 && Gone(PidOf(name))) {
        RunCommand({"ip", "netns", "del", name});
      }
    }
  }

  std::string tag_;
  int subnet_ = -1;
  bool bridge_made_ = false;
  std::vector<std::string> namespaces_;
  std::vector<std::string> veths_;
};

}  // namespace ddbfs::testing
