// ddbfs chmod MODE PATH... and ddbfs chown OWNER[:GROUP] PATH... (as the
// coreutils commands, numeric modes; the metaserver checks who may).

#include <grp.h>
#include <pwd.h>

#include <memory>
#include <string>
#include <vector>

#include "command.h"

namespace ddbfs::cli {

namespace {

bool ParseMode(const std::string& text, uint32_t* mode) {
  if (text.empty() || text.size() > 4) return false;
  uint32_t m = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    m = m * 8 + static_cast<uint32_t>(c - '0');
  }
  *mode = m;
  return true;
}

// A user or group name, or a number.
bool ParseId(const std::string& text, bool group, uint32_t* id) {
  if (text.empty()) return false;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9) return false;
    *id = static_cast<uint32_t>(std::stoul(text));
    return true;
  }
  if (group) {
    const struct group* g = ::getgrnam(text.c_str());
    if (!g) return false;
    *id = g->gr_gid;
  } else {
    const struct passwd* p = ::getpwnam(text.c_str());
    if (!p) return false;
    *id = p->pw_uid;
  }
  return true;
}

int RunChange(Context& ctx, const std::vector<std::string>& paths, const AttrChanges& ch) {
  return ctx.ForEachPath(paths, [&](Client& c, const std::string& path) {
    auto attr = c.ResolvePath(path);
    if (!attr.ok()) {
      ctx.Fail(path, attr.status());
      return;
    }
    auto changed = c.SetAttr(attr->inode, ch);
    if (!changed.ok()) ctx.Fail(path, changed.status());
  });
}

}  // namespace

Command ChmodCommand() {
  return {"chmod",
          {},
          "change permission bits: chmod MODE PATH... (octal, e.g. 0750)",
          [](CLI::App* app) {
            auto mode = std::make_shared<std::string>();
            auto paths = std::make_shared<std::vector<std::string>>();
            app->add_option("MODE", *mode, "octal mode, e.g. 644 or 2775")->required();
            app->add_option("PATH", *paths, "DDBFS paths")->required();
            return Runner([=](Context& ctx) {
              AttrChanges ch;
              uint32_t m = 0;
              if (!ParseMode(*mode, &m)) {
                ctx.FailText("", ErrorCode::kInvalidArgument,
                             "mode '" + *mode + "' is not octal (e.g. 644, 0750, 1777)");
                return ctx.exit_code();
              }
              ch.mode = m;
              return RunChange(ctx, *paths, ch);
            });
          }};
}

Command ChownCommand() {
  return {"chown",
          {},
          "change owner and group: chown OWNER[:GROUP] PATH... (root only for OWNER)",
          [](CLI::App* app) {
            auto owner = std::make_shared<std::string>();
            auto paths = std::make_shared<std::vector<std::string>>();
            app->add_option("OWNER", *owner, "user[:group], :group, names or numbers")->required();
            app->add_option("PATH", *paths, "DDBFS paths")->required();
            return Runner([=](Context& ctx) {
              AttrChanges ch;
              const auto colon = owner->find(':');
              const std::string user = owner->substr(0, colon);
              const std::string group = colon == std::string::npos ? "" : owner->substr(colon + 1);
              uint32_t id = 0;
              if (!user.empty()) {
                if (!ParseId(user, false, &id)) {
                  ctx.FailText("", ErrorCode::kInvalidArgument, "no user '" + user + "'");
                  return ctx.exit_code();
                }
                ch.uid = id;
              }
              if (!group.empty()) {
                if (!ParseId(group, true, &id)) {
                  ctx.FailText("", ErrorCode::kInvalidArgument, "no group '" + group + "'");
                  return ctx.exit_code();
                }
                ch.gid = id;
              }
              if (!ch.uid && !ch.gid) {
                ctx.FailText("", ErrorCode::kInvalidArgument,
                             "give OWNER, OWNER:GROUP or :GROUP (e.g. ana:staff)");
                return ctx.exit_code();
              }
              return RunChange(ctx, *paths, ch);
            });
          }};
}

}  // namespace ddbfs::cli
