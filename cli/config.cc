#include "config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ddbfs/constants.h"

namespace ddbfs::cli {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

}  // namespace

Status ReadConfigFile(const std::string& path, std::string* meta) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot read config file " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    auto eq = t.find('=');
    const std::string where = "config file " + path + " line " + std::to_string(number);
    if (eq == std::string::npos) {
      return InvalidArgument(where + ": expected `key = value` — see docs/cli.md");
    }
    std::string key = Trim(t.substr(0, eq));
    std::string value = Trim(t.substr(eq + 1));
    if (key == "meta") {
      *meta = value;
    } else {
      return InvalidArgument(where + ": unknown key '" + key + "' (known: meta) — see docs/cli.md");
    }
  }
  return Status();
}

Result<std::string> ResolveMetaAddress(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = Env("DDBFS_META")) return std::string(env);
  std::string path;
  if (const char* cfg = Env("DDBFS_CONFIG")) {
    path = cfg;  // named explicitly: it must exist
  } else {
    std::error_code ec;
    if (const char* home = Env("HOME")) {
      std::string user = std::string(home) + "/.config/ddbfs/client.conf";
      if (std::filesystem::exists(user, ec)) path = user;
    }
    if (path.empty() && std::filesystem::exists("/etc/ddbfs/client.conf", ec)) {
      path = "/etc/ddbfs/client.conf";
    }
  }
  std::string meta;
  if (!path.empty()) RETURN_IF_ERROR(ReadConfigFile(path, &meta));
  if (!meta.empty()) return meta;
  return "127.0.0.1:" + std::to_string(kDefaultMetaPort);
}

}  // namespace ddbfs::cli
