#include "ddbfs/client_config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ddbfs/auth.h"
#include "ddbfs/constants.h"

namespace ddbfs {

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

bool ParseBool(const std::string& v, bool* out) {
  if (v == "on" || v == "yes" || v == "true" || v == "1") {
    *out = true;
    return true;
  }
  if (v == "off" || v == "no" || v == "false" || v == "0") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace

Status ReadClientConfigFile(const std::string& path, ClientOptions* out, bool* meta_set) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot read config file " + path);
  std::string line;
  bool has_key = false;
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
      out->meta_address = value;
      *meta_set = true;
    } else if (key == "key") {
      // KEY_ID:SECRET_HEX, as `ddbfs key add` prints it.
      auto colon = value.find(':');
      Result<std::string> secret = colon == std::string::npos
                                       ? Result<std::string>(InvalidArgument("no ':'"))
                                       : FromHex(value.substr(colon + 1));
      if (!secret.ok() || secret->size() != kSecretBytes || colon == 0) {
        return InvalidArgument(where +
                               ": `key` must be KEY_ID:64_HEX_DIGITS as `ddbfs key add` "
                               "prints it");
      }
      out->key = Credential{value.substr(0, colon), *secret};
      has_key = true;
    } else if (key == "tls") {
      if (!ParseBool(value, &out->tls.enabled)) {
        return InvalidArgument(where + ": tls must be on or off");
      }
    } else if (key == "tls-ca") {
      out->tls.ca_file = value;
    } else {
      return InvalidArgument(where + ": unknown key '" + key +
                             "' (known: meta, key, tls, tls-ca) — see docs/cli.md");
    }
  }
  if (has_key) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      return Status(
          ErrorCode::kPermissionDenied,
          "config file " + path + " holds a key but other users can read it — chmod 600 " + path);
    }
  }
  return Status();
}

Result<ClientOptions> LoadClientOptions(const std::string& meta_flag) {
  ClientOptions out;
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
  bool meta_set = false;
  if (!path.empty()) RETURN_IF_ERROR(ReadClientConfigFile(path, &out, &meta_set));
  if (!meta_flag.empty()) {
    out.meta_address = meta_flag;
  } else if (const char* env = Env("DDBFS_META")) {
    out.meta_address = env;
  } else if (!meta_set) {
    std::error_code ec;
    out.meta_address = std::filesystem::exists(kDefaultMetaSocket, ec)
                           ? std::string("unix:") + kDefaultMetaSocket
                           : "127.0.0.1:" + std::to_string(kDefaultMetaPort);
  }
  return out;
}

}  // namespace ddbfs
