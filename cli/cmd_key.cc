// ddbfs key add|list|revoke and ddbfs whoami (docs/security.md).

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "ddbfs/auth.h"
#include "format.h"

namespace ddbfs::cli {

namespace {

// "UID:GID" -> two ids; false if malformed.
bool ParseIds(const std::string& text, uint32_t* uid, uint32_t* gid) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  try {
    size_t used = 0;
    const unsigned long u = std::stoul(text.substr(0, colon), &used);
    if (used != colon) return false;
    const std::string g_text = text.substr(colon + 1);
    const unsigned long g = std::stoul(g_text, &used);
    if (used != g_text.size() || u > 0x7fffffff || g > 0x7fffffff) return false;
    *uid = static_cast<uint32_t>(u);
    *gid = static_cast<uint32_t>(g);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

struct KeyArgs {
  std::string name;
  std::vector<std::string> networks;
  bool read_only = false;
  std::string subtree = "/";
  std::string mapall;
  std::string maproot = "65534:65534";
  bool admin = false;
  std::string key_id;
};

int RunAdd(Context& ctx, const KeyArgs& a) {
  ExportKeyInfo key;
  key.name = a.name;
  key.networks = a.networks;
  key.read_only = a.read_only;
  key.subtree = a.subtree;
  key.admin = a.admin;
  if (!a.mapall.empty()) {
    key.mapall = true;
    if (!ParseIds(a.mapall, &key.map_uid, &key.map_gid)) {
      ctx.FailText("", ErrorCode::kInvalidArgument,
                   "--mapall must be UID:GID, e.g. --mapall 1000:1000");
      return ctx.exit_code();
    }
  }
  if (!ParseIds(a.maproot, &key.maproot_uid, &key.maproot_gid)) {
    ctx.FailText("", ErrorCode::kInvalidArgument, "--maproot must be UID:GID, e.g. 0:0");
    return ctx.exit_code();
  }
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto added = c->AddKey(key);
  if (!added.ok()) {
    ctx.Fail("", added.status());
    return ctx.exit_code();
  }
  std::cout << "# export key " << added->first.key_id << " (" << Shown(added->first.name)
            << "): put this line in the client's ~/.config/ddbfs/client.conf or\n"
            << "# /etc/ddbfs/client.conf (mode 0600). The secret is not shown again.\n"
            << "key = " << added->first.key_id << ":" << ToHex(added->second) << std::endl;
  return ctx.exit_code();
}

std::string Ids(uint32_t uid, uint32_t gid) {
  return std::to_string(uid) + ":" + std::to_string(gid);
}

int RunList(Context& ctx) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto keys = c->ListKeys();
  if (!keys.ok()) {
    ctx.Fail("", keys.status());
    return ctx.exit_code();
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-14s %-8s %-20s %-4s %-6s %-24s %-16s %s\n", "KEY", "STATE",
                "IDENTITY", "RO", "ADMIN", "NETWORKS", "SUBTREE", "NAME");
  std::cout << line;
  for (const ExportKeyInfo& k : *keys) {
    std::string networks;
    for (const auto& n : k.networks) networks += (networks.empty() ? "" : ",") + n;
    if (networks.empty()) networks = "any";
    const std::string identity = k.mapall ? "mapall " + Ids(k.map_uid, k.map_gid)
                                          : "trusted root=" + Ids(k.maproot_uid, k.maproot_gid);
    std::snprintf(line, sizeof line, "%-14s %-8s %-20s %-4s %-6s %-24s %-16s %s\n",
                  k.key_id.c_str(), k.revoked ? "revoked" : "active", identity.c_str(),
                  k.read_only ? "yes" : "no", k.admin ? "yes" : "no", networks.c_str(),
                  Shown(k.subtree).c_str(), Shown(k.name).c_str());
    std::cout << line;
  }
  return ctx.exit_code();
}

int RunRevoke(Context& ctx, const std::string& key_id) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  Status s = c->RevokeKey(key_id);
  if (!s.ok()) ctx.Fail(key_id, s);
  return ctx.exit_code();
}

int RunWhoAmI(Context& ctx) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto me = c->WhoAmI();
  if (!me.ok()) {
    ctx.Fail("", me.status());
    return ctx.exit_code();
  }
  std::string groups;
  for (uint32_t g : me->caller.groups) groups += " " + std::to_string(g);
  std::cout << Shown(me->principal) << ": uid " << me->caller.uid << ", gid " << me->caller.gid
            << (groups.empty() ? "" : ", groups" + groups) << (me->read_only ? ", read-only" : "")
            << (me->admin ? ", admin" : "") << std::endl;
  return ctx.exit_code();
}

}  // namespace

Command KeyCommand() {
  return {"key",
          {},
          "export keys for clients on other machines: key add NAME | key list | key revoke ID",
          [](CLI::App* app) {
            auto a = std::make_shared<KeyArgs>();
            app->require_subcommand(1);
            auto* add = app->add_subcommand("add", "make a key; prints the client.conf line");
            add->add_option("NAME", a->name, "what the key is for (e.g. the host)")->required();
            add->add_option("--network", a->networks,
                            "CIDR the client may connect from (repeat; default: any)");
            add->add_flag("--read-only", a->read_only, "no changes through this key");
            add->add_option("--subtree", a->subtree,
                            "the only directory the key reaches, seen as / (default: all)");
            add->add_option("--mapall", a->mapall,
                            "UID:GID every request runs as (default: trust the client's uids)");
            add->add_option("--maproot", a->maproot,
                            "UID:GID that root of a trusted client becomes (default 65534:65534; "
                            "0:0 trusts root)");
            add->add_flag("--admin", a->admin, "may manage keys");
            app->add_subcommand("list", "every key (no secrets)");
            auto* revoke = app->add_subcommand("revoke", "refuse a key from now on");
            revoke->add_option("KEY_ID", a->key_id, "as `ddbfs key list` shows it")->required();
            return Runner([=](Context& ctx) {
              if (app->got_subcommand("add")) return RunAdd(ctx, *a);
              if (app->got_subcommand("list")) return RunList(ctx);
              return RunRevoke(ctx, a->key_id);
            });
          }};
}

Command WhoAmICommand() {
  return {"whoami", {}, "the identity the metaserver takes this client for", [](CLI::App*) {
            return Runner([](Context& ctx) { return RunWhoAmI(ctx); });
          }};
}

}  // namespace ddbfs::cli
