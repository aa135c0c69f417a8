// ddbfs server list|drain|undrain|remove (docs/repair.md, "Draining";
// docs/cli.md).

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "command.h"
#include "format.h"

namespace ddbfs::cli {

namespace {

struct ServerArgs {
  std::string id;
  bool json = false;
};

std::optional<int> ParseId(Context& ctx, const std::string& text) {
  int id = 0;
  bool ok = !text.empty() && text.size() <= 9;
  for (char ch : text) {
    if (ch < '0' || ch > '9') ok = false;
  }
  if (ok) id = std::stoi(text);
  if (!ok || id <= 0) {
    ctx.FailText("", ErrorCode::kInvalidArgument,
                 "'" + text + "' is not a server id — ddbfs server list shows them");
    return std::nullopt;
  }
  return id;
}

int RunList(Context& ctx, bool json) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto st = c->ClusterStatus();
  if (!st.ok()) {
    ctx.Fail("", st.status());
    return ctx.exit_code();
  }
  if (!json) {
    std::printf("%-4s %-21s %-12s %-10s %-8s %8s %s\n", "ID", "ADDRESS", "LABEL", "RACK", "STATE",
                "CHUNKS", "DRAIN");
  }
  for (const ServerView& s : st->servers) {
    if (json) {
      std::cout << JsonObject()
                       .Add("server_id", s.server_id)
                       .Add("address", s.address)
                       .Add("label", s.label)
                       .Add("rack", s.rack)
                       .Add("alive", s.alive)
                       .Add("chunks", s.chunks)
                       .Add("draining", s.draining)
                       .Add("drain_chunks_left", s.drain_chunks_left)
                       .str()
                << std::endl;
      continue;
    }
    const std::string drain =
        s.draining ? std::to_string(s.drain_chunks_left) + " chunks left" : "-";
    std::printf("%-4d %-21s %-12s %-10s %-8s %8lld %s\n", s.server_id, s.address.c_str(),
                s.label.c_str(), s.rack.empty() ? "-" : s.rack.c_str(), s.alive ? "alive" : "DEAD",
                static_cast<long long>(s.chunks), drain.c_str());
  }
  std::fflush(stdout);
  return ctx.exit_code();
}

int RunDrain(Context& ctx, const std::string& text, bool drain) {
  std::optional<int> id = ParseId(ctx, text);
  if (!id) return ctx.exit_code();
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto left = c->DrainServer(*id, drain);
  if (!left.ok()) {
    ctx.Fail("server " + text, left.status());
    return ctx.exit_code();
  }
  if (!ctx.quiet()) {
    if (drain) {
      std::cout << "server " << *id << " draining: " << *left
                << " chunks to move (ddbfs status shows how many are left)" << std::endl;
    } else {
      std::cout << "server " << *id << " no longer draining (" << *left << " chunks on it)"
                << std::endl;
    }
  }
  return ctx.exit_code();
}

int RunRemove(Context& ctx, const std::string& text) {
  std::optional<int> id = ParseId(ctx, text);
  if (!id) return ctx.exit_code();
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  Status s = c->RemoveServer(*id);
  if (!s.ok()) {
    ctx.Fail("server " + text, s);
    return ctx.exit_code();
  }
  if (!ctx.quiet()) std::cout << "server " << *id << " removed" << std::endl;
  return ctx.exit_code();
}

}  // namespace

Command ServerCommand() {
  return {"server",
          {},
          "chunk servers: list them, drain one (move its chunks elsewhere), undrain, or remove "
          "a drained, stopped one (admins)",
          [](CLI::App* app) {
            auto a = std::make_shared<ServerArgs>();
            app->require_subcommand(1);
            auto* list = app->add_subcommand("list", "every chunk server, its state and drain");
            list->add_flag("--json", a->json, "one JSON object per server");
            auto* drain = app->add_subcommand(
                "drain", "ID: no new chunks on it; its chunks are copied elsewhere, then dropped");
            drain->add_option("ID", a->id, "server id (ddbfs server list)")->required();
            auto* undrain = app->add_subcommand("undrain", "ID: stop draining it");
            undrain->add_option("ID", a->id, "server id")->required();
            auto* remove = app->add_subcommand(
                "remove", "ID: forget a stopped server that holds no replica (drain it first)");
            remove->add_option("ID", a->id, "server id")->required();
            return Runner([=](Context& ctx) {
              if (app->got_subcommand("drain")) return RunDrain(ctx, a->id, true);
              if (app->got_subcommand("undrain")) return RunDrain(ctx, a->id, false);
              if (app->got_subcommand("remove")) return RunRemove(ctx, a->id);
              return RunList(ctx, a->json);
            });
          }};
}

}  // namespace ddbfs::cli
