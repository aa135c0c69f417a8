// Inspection commands: ddbfs info PATH, ddbfs status.

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "command.h"
#include "ddbfs/auth.h"
#include "ddbfs/content_hash.h"
#include "format.h"
#include "paths.h"

namespace ddbfs::cli {

namespace {

// A percentage for JSON, two decimals.
std::string JsonNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string ReplicaJson(const ReplicaView& r) {
  return JsonObject()
      .Add("server_id", r.server_id)
      .Add("address", r.address)
      .Add("label", r.label)
      .Add("version", r.version)
      .Add("alive", r.alive)
      .Add("current", r.current)
      .str();
}

std::string ChunkJson(const ChunkView& c) {
  std::string replicas = "[";
  for (size_t i = 0; i < c.replicas.size(); ++i) {
    replicas += (i ? ", " : "") + ReplicaJson(c.replicas[i]);
  }
  replicas += "]";
  return JsonObject()
      .Add("index", c.index)
      .Add("chunk_id", c.chunk_id)
      .Add("version", c.version)
      .Add("length", c.length)
      .AddRaw("replicas", replicas)
      .str();
}

// What `info` says of a file's content hash (docs/content_hash.md).
struct HashLine {
  std::string state;  // current, stale, none, unknown
  std::string hex;    // when current
  std::string text;   // the text line's value
};

HashLine DescribeHash(Client& client, const Attr& a) {
  HashLine h;
  Result<Client::ContentHash> got = client.GetContentHash(a.inode);
  if (!got.ok()) {
    h.state = "unknown";
    h.text = "unknown (" + got.status().message() + ")";
  } else if (got->sha256) {
    h.state = "current";
    h.hex = ToHex(*got->sha256);
    h.text = h.hex;
  } else if (got->size > kMaxHashedSize) {
    h.state = "none";
    h.text = "none (files over " + HumanBytes(kMaxHashedSize) + " have no content hash)";
  } else {
    h.state = "stale";
    h.text = "stale (" + std::to_string(got->stale_chunks) + " of its chunks " +
             (got->stale_chunks == 1 ? "is" : "are") +
             " being hashed again in the background; run again later)";
  }
  return h;
}

int RunInfo(Context& ctx, const std::string& given, bool json) {
  auto path = NormalizePath(given);
  if (!path.ok()) {
    ctx.Fail("", path.status());
    return ctx.exit_code();
  }
  Client* client = ctx.client();
  if (!client) return ctx.exit_code();
  auto a = client->ResolvePath(*path);
  if (!a.ok()) {
    ctx.Fail(*path, a.status());
    return ctx.exit_code();
  }
  std::string target;
  if (a->type == FileType::kSymlink) {
    auto t = client->Readlink(a->inode);
    if (!t.ok()) {
      ctx.Fail(*path, t.status());
      return ctx.exit_code();
    }
    target = *t;
  }
  std::vector<ChunkView> chunks;
  if (a->type == FileType::kRegular) {
    auto c = client->Chunks(a->inode);
    if (!c.ok()) {
      ctx.Fail(*path, c.status());
      return ctx.exit_code();
    }
    chunks = std::move(c).value();
  }
  HashLine hash;
  if (a->type == FileType::kRegular) hash = DescribeHash(*client, *a);
  // The goal the repair keeps (docs/repair.md, "Goals"): the own one unless
  // a tag rule asks for more.
  int goal = a->goal;
  std::string goal_note;
  if (auto g = client->GetGoal(a->inode); g.ok() && g->goal != a->goal) {
    goal = g->goal;
    goal_note =
        " (tag rule '" + g->source_tag + "'; its own goal is " + std::to_string(a->goal) + ")";
  }
  if (json) {
    JsonObject o;
    o.Add("path", *path)
        .Add("inode", static_cast<int64_t>(a->inode))
        .Add("type", TypeName(a->type))
        .Add("size", a->size)
        .Add("mode", OctalMode(a->mode))
        .Add("uid", a->uid)
        .Add("gid", a->gid)
        .Add("nlink", a->nlink)
        .Add("goal", a->goal)
        .Add("effective_goal", goal)
        .Add("atime_ns", a->atime_ns)
        .Add("mtime_ns", a->mtime_ns)
        .Add("ctime_ns", a->ctime_ns);
    if (a->type == FileType::kSymlink) o.Add("target", target);
    if (a->type == FileType::kRegular) {
      if (hash.hex.empty()) {
        o.AddRaw("sha256", "null");
      } else {
        o.Add("sha256", hash.hex);
      }
      o.Add("sha256_state", hash.state);
      std::string list = "[";
      for (size_t i = 0; i < chunks.size(); ++i) list += (i ? ", " : "") + ChunkJson(chunks[i]);
      o.AddRaw("chunks", list + "]");
    }
    std::cout << o.str() << std::endl;
    return ctx.exit_code();
  }
  std::ostringstream out;
  out << "path:    " << *path << '\n'
      << "inode:   " << a->inode << '\n'
      << "type:    " << TypeName(a->type) << '\n'
      << "size:    " << a->size << " (" << HumanBytes(a->size) << ")\n";
  if (a->type == FileType::kRegular) out << "sha256:  " << hash.text << '\n';
  out << "mode:    " << ModeString(a->type, a->mode) << " (" << OctalMode(a->mode) << ")\n"
      << "owner:   uid " << a->uid << ", gid " << a->gid << '\n'
      << "links:   " << a->nlink << '\n'
      << "goal:    " << goal << " replicas" << goal_note << '\n'
      << "atime:   " << FullTime(a->atime_ns) << '\n'
      << "mtime:   " << FullTime(a->mtime_ns) << '\n'
      << "ctime:   " << FullTime(a->ctime_ns) << '\n';
  if (a->type == FileType::kSymlink) out << "target:  " << target << '\n';
  if (a->type == FileType::kRegular) {
    out << "chunks:  " << chunks.size() << '\n';
    for (const auto& c : chunks) {
      int current = 0;
      for (const auto& r : c.replicas) current += r.current && r.alive ? 1 : 0;
      out << "  chunk " << c.index << ": id " << c.chunk_id << ", version " << c.version
          << ", length " << c.length << ", " << current << "/" << goal << " current replicas\n";
      for (const auto& r : c.replicas) {
        out << "    server " << r.server_id << "  " << r.address << "  " << r.label << "  version "
            << r.version << "  " << (r.alive ? "alive" : "DEAD") << "  "
            << (r.current ? "current" : "stale") << '\n';
      }
    }
  }
  std::cout << out.str() << std::flush;
  return ctx.exit_code();
}

int RunStatus(Context& ctx, bool json) {
  Client* client = ctx.client();
  if (!client) return ctx.exit_code();
  auto st = client->ClusterStatus();
  if (!st.ok()) {
    ctx.Fail("", st.status());
    return ctx.exit_code();
  }
  uint64_t capacity = 0, used = 0;
  int alive = 0;
  for (const auto& s : st->servers) {
    capacity += s.capacity_bytes;
    used += s.used_bytes;
    alive += s.alive ? 1 : 0;
  }
  auto percent = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  };
  if (json) {
    std::string servers = "[";
    for (size_t i = 0; i < st->servers.size(); ++i) {
      const auto& s = st->servers[i];
      servers += std::string(i ? "," : "") + "\n    " +
                 JsonObject()
                     .Add("server_id", s.server_id)
                     .Add("address", s.address)
                     .Add("label", s.label)
                     .Add("rack", s.rack)
                     .Add("alive", s.alive)
                     .Add("capacity_bytes", s.capacity_bytes)
                     .Add("used_bytes", s.used_bytes)
                     .Add("chunks", s.chunks)
                     .Add("last_heartbeat_ms_ago", s.last_heartbeat_ms_ago)
                     .Add("draining", s.draining)
                     .Add("drain_chunks_left", s.drain_chunks_left)
                     .str();
    }
    servers += st->servers.empty() ? "]" : "\n  ]";
    std::cout << "{\n  \"servers\": " << servers << ",\n  \"totals\": "
              << JsonObject()
                     .Add("servers", static_cast<int64_t>(st->servers.size()))
                     .Add("alive", alive)
                     .Add("capacity_bytes", capacity)
                     .Add("used_bytes", used)
                     .Add("files", st->files)
                     .Add("directories", st->directories)
                     .Add("logical_bytes", st->logical_bytes)
                     .Add("chunks", st->chunks)
                     .Add("chunks_under_goal", st->chunks_under_goal)
                     .Add("chunks_missing", st->chunks_missing)
                     .Add("pending_deletions", st->pending_deletions)
                     .Add("chunks_over_goal", st->chunks_over_goal)
                     .Add("held_replicas", st->held_replicas)
                     .Add("held_bytes", st->held_bytes)
                     .Add("chunk_retention_s", st->chunk_retention_s)
                     .str()
              << ",\n  \"repair\": "
              << JsonObject()
                     .Add("enabled", st->repair_enabled)
                     .Add("copies_in_flight", static_cast<int64_t>(st->repair_copies_in_flight))
                     .Add("chunks_copied", st->repair_chunks_copied)
                     .Add("bytes_copied", st->repair_bytes_copied)
                     .Add("bytes_per_s", st->repair_bytes_per_s)
                     .Add("copies_failed", st->repair_copies_failed)
                     .Add("copies_discarded", st->repair_copies_discarded)
                     .Add("replicas_trimmed", st->repair_replicas_trimmed)
                     .Add("scans", st->repair_scans)
                     .str()
              << ",\n  \"rebalance\": "
              << JsonObject()
                     .Add("enabled", st->rebalance_margin_pct > 0)
                     .AddRaw("margin_pct", JsonNumber(st->rebalance_margin_pct))
                     .AddRaw("gap_pct", JsonNumber(st->rebalance_gap_pct))
                     .Add("moves_in_flight", static_cast<int64_t>(st->rebalance_moves_in_flight))
                     .Add("chunks_moved", st->rebalance_chunks_moved)
                     .Add("bytes_moved", st->rebalance_bytes_moved)
                     .Add("bytes_per_s", st->rebalance_bytes_per_s)
                     .str()
              << "\n}" << std::endl;
    return ctx.exit_code();
  }
  char line[512];
  std::ostringstream out;
  std::snprintf(line, sizeof line, "%-4s %-21s %-12s %-5s %10s %10s %6s %8s %s\n", "ID", "ADDRESS",
                "LABEL", "STATE", "CAPACITY", "USED", "USE%", "CHUNKS", "HEARTBEAT");
  out << line;
  for (const auto& s : st->servers) {
    std::string beat = std::to_string(s.last_heartbeat_ms_ago) + " ms ago";
    const char* state = s.alive ? (s.draining ? "drain" : "alive") : "DEAD";
    std::snprintf(line, sizeof line, "%-4d %-21s %-12s %-5s %10s %10s %5.1f%% %8lld %s\n",
                  s.server_id, s.address.c_str(), s.label.c_str(), state,
                  HumanBytes(s.capacity_bytes).c_str(), HumanBytes(s.used_bytes).c_str(),
                  percent(s.used_bytes, s.capacity_bytes), static_cast<long long>(s.chunks),
                  beat.c_str());
    out << line;
  }
  std::snprintf(line, sizeof line, "%.1f%%", percent(used, capacity));
  out << "\nservers: " << st->servers.size() << " (" << alive << " alive, "
      << st->servers.size() - static_cast<size_t>(alive) << " dead), capacity "
      << HumanBytes(capacity) << ", used " << HumanBytes(used) << " (" << line << ")\n"
      << "files: " << st->files << ", directories: " << st->directories << ", data "
      << HumanBytes(st->logical_bytes) << '\n'
      << "chunks: " << st->chunks << ", under goal: " << st->chunks_under_goal
      << ", over goal: " << st->chunks_over_goal << ", missing: " << st->chunks_missing
      << ", pending deletions: " << st->pending_deletions << '\n';
  if (st->chunk_retention_s > 0 || st->held_replicas > 0) {
    // docs/backup.md, "Deletion retention".
    const int64_t r = st->chunk_retention_s;
    const std::string retention = r % 3600 == 0 ? std::to_string(r / 3600) + " h"
                                  : r % 60 == 0 ? std::to_string(r / 60) + " min"
                                                : std::to_string(r) + " s";
    out << "held for retention (" << retention << "): " << st->held_replicas << " replicas, "
        << HumanBytes(static_cast<uint64_t>(st->held_bytes)) << '\n';
  }
  for (const auto& s : st->servers) {
    if (!s.draining) continue;
    out << "drain: server " << s.server_id << (s.alive ? "" : " (DEAD)") << ": "
        << s.drain_chunks_left << " chunks left"
        << (s.drain_chunks_left == 0
                ? " - drained; stop it, then ddbfs server remove " + std::to_string(s.server_id)
                : std::string())
        << '\n';
  }
  if (st->repair_enabled) {
    out << "repair: " << st->repair_copies_in_flight << " copies in flight, "
        << st->repair_chunks_copied << " chunks copied ("
        << HumanBytes(static_cast<uint64_t>(st->repair_bytes_copied)) << "), "
        << HumanBytes(static_cast<uint64_t>(st->repair_bytes_per_s)) << "/s, "
        << st->repair_copies_failed << " failed, " << st->repair_copies_discarded << " discarded, "
        << st->repair_replicas_trimmed << " extra replicas trimmed\n";
  } else {
    out << "repair: off\n";
  }
  if (st->rebalance_margin_pct > 0) {
    // docs/repair.md, "Rebalancing".
    std::snprintf(line, sizeof line, "rebalance: on, usage gap %.1f%% (margin %g%%), ",
                  st->rebalance_gap_pct, st->rebalance_margin_pct);
    out << line << st->rebalance_moves_in_flight << " moves in flight, "
        << st->rebalance_chunks_moved << " chunks moved ("
        << HumanBytes(static_cast<uint64_t>(st->rebalance_bytes_moved)) << "), "
        << HumanBytes(static_cast<uint64_t>(st->rebalance_bytes_per_s)) << "/s\n";
  } else {
    out << "rebalance: off\n";
  }
  std::cout << out.str() << std::flush;
  return ctx.exit_code();
}

}  // namespace

Command InfoCommand() {
  return {"info",
          {},
          "details of a path: attributes and, for files, every chunk and replica",
          [](CLI::App* app) {
            auto path = std::make_shared<std::string>();
            auto json = std::make_shared<bool>(false);
            app->add_option("PATH", *path, "DDBFS path")->required();
            app->add_flag("--json", *json, "one JSON object");
            return Runner([=](Context& ctx) { return RunInfo(ctx, *path, *json); });
          }};
}

Command StatusCommand() {
  return {"status", {}, "chunk servers, space, and chunk health of the cluster", [](CLI::App* app) {
            auto json = std::make_shared<bool>(false);
            app->add_flag("--json", *json, "one JSON object");
            return Runner([=](Context& ctx) { return RunStatus(ctx, *json); });
          }};
}

}  // namespace ddbfs::cli
