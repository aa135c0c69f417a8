// ddbfs fsck [--repair] [--json] [PATH]: compares the chunk map with every
// live chunk server's inventory (docs/repair.md, "fsck"; docs/cli.md).

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "format.h"
#include "paths.h"

namespace ddbfs::cli {

namespace {

// Chunks of the metadata asked for per call.
constexpr int kWindow = 2000;

struct FsckArgs {
  std::string path = "/";
  bool repair = false;
  bool json = false;
  int wait_s = 120;
};

struct Report {
  std::vector<FsckChunkView> chunks;
  std::vector<FsckOrphanView> orphans;
  int64_t checked = 0;
  int64_t orphans_not_listed = 0;
  std::set<int> not_checked;
  int64_t actions = 0;

  int64_t Count(const std::string& problem) const {
    int64_t n = 0;
    for (const auto& c : chunks) {
      for (const auto& p : c.problems) n += p == problem ? 1 : 0;
    }
    return n;
  }
  // Nothing missing, changed, corrupt or under goal, and every live server
  // checked.
  bool clean() const {
    return Count("missing") == 0 && Count("changed") == 0 && Count("corrupt") == 0 &&
           Count("under_goal") == 0 && not_checked.empty();
  }
  // Everything repair can fix is fixed: the chunks left with a problem
  // have no good replica to copy from, and no orphan whose deletion was
  // queued is left (a held deletion waits for the retention:
  // docs/backup.md).
  bool settled(const std::set<std::pair<int, int64_t>>& queued) const {
    for (const auto& c : chunks) {
      if (c.good > 0) return false;
    }
    for (const auto& o : orphans) {
      if (!o.held && queued.count({o.server_id, o.chunk_id})) return false;
    }
    return true;
  }
};

Result<Report> Collect(Client& c, const std::string& path, bool repair) {
  Report r;
  int64_t after = 0;
  while (true) {
    ASSIGN_OR_RETURN(FsckPageView page, c.Fsck(path, repair, after, kWindow));
    r.checked += page.chunks_checked;
    r.orphans_not_listed += page.orphans_not_listed;
    r.actions += page.repair_actions;
    r.not_checked.insert(page.servers_not_checked.begin(), page.servers_not_checked.end());
    for (auto& ch : page.chunks) r.chunks.push_back(std::move(ch));
    for (auto& o : page.orphans) r.orphans.push_back(o);
    if (!page.more) return r;
    after = page.next_after_chunk_id;
  }
}

std::string JsonString(const std::string& s) {
  const std::string o = JsonObject().Add("v", s).str();
  size_t start = o.find(':') + 1;
  while (start < o.size() && o[start] == ' ') ++start;
  return o.substr(start, o.size() - start - 1);
}

std::string JsonStrings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + JsonString(v[i]);
  return out + "]";
}

std::string NameOf(const FsckChunkView& c) {
  if (c.paths.empty()) return "(inode " + std::to_string(c.inode) + ", no name)";
  std::string out;
  for (size_t i = 0; i < c.paths.size(); ++i) out += (i ? ", " : "") + Shown(c.paths[i]);
  return out;
}

// Files with a chunk no good replica is left of, each "lost" (a chunk has
// no replica at all) or "changed" (a server holds only a later version of a
// chunk than the metadata's: the file was written after the backup that
// was restored; docs/backup.md). Lost wins over changed.
std::map<std::string, std::string> DamagedFiles(const Report& r) {
  std::map<std::string, std::string> out;
  for (const auto& c : r.chunks) {
    if (c.good > 0) continue;
    const bool changed =
        std::find(c.problems.begin(), c.problems.end(), "changed") != c.problems.end();
    std::string& kind = out[NameOf(c)];
    if (kind != "lost") kind = changed ? "changed" : "lost";
  }
  return out;
}

std::vector<std::string> FilesOfKind(const Report& r, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& [name, k] : DamagedFiles(r)) {
    if (k == kind) out.push_back(name);
  }
  return out;
}

void PrintText(const Report& r, bool repair) {
  std::ostringstream out;
  for (const auto& c : r.chunks) {
    out << NameOf(c) << ": chunk " << c.index << " (id " << c.chunk_id << ", version " << c.version
        << "): ";
    for (size_t i = 0; i < c.problems.size(); ++i) {
      out << (i ? ", " : "") << c.problems[i];
    }
    out << "; " << c.good << "/" << c.goal << " good replicas";
    for (const auto& v : c.replicas) {
      out << "; server " << v.server_id << " " << v.state;
    }
    out << '\n';
  }
  for (const auto& o : r.orphans) {
    out << "orphan: server " << o.server_id << " chunk " << o.chunk_id << " version " << o.version
        << ", " << HumanBytes(static_cast<uint64_t>(o.length)) << ", " << o.age_ms / 1000
        << " s old, " << (o.known_chunk ? "unrecorded copy" : "chunk not in the metadata")
        << (o.held     ? ", deletion held for the retention"
            : o.queued ? ", deletion queued"
                       : "")
        << '\n';
  }
  if (r.orphans_not_listed > 0) {
    out << "orphans not listed: " << r.orphans_not_listed << '\n';
  }
  for (int id : r.not_checked) {
    out << "server " << id << ": its inventory could not be read (not checked)\n";
  }
  out << "chunks checked: " << r.checked << ", missing: " << r.Count("missing")
      << ", corrupt: " << r.Count("corrupt") << ", stale: " << r.Count("stale")
      << ", under goal: " << r.Count("under_goal") << ", over goal: " << r.Count("over_goal")
      << ", changed: " << r.Count("changed")
      << ", orphans: " << r.orphans.size() + static_cast<size_t>(r.orphans_not_listed) << '\n';
  const std::map<std::string, std::string> damaged = DamagedFiles(r);
  if (repair) {
    out << "repair: " << r.actions << " actions; files that lost data: "
        << (damaged.empty() ? "none" : std::to_string(damaged.size())) << '\n';
  }
  for (const auto& [f, kind] : damaged) out << kind << ": " << f << '\n';
  out << "status: " << (r.clean() ? "clean" : "NOT clean") << '\n';
  std::cout << out.str() << std::flush;
}

void PrintJson(const Report& r, bool repair) {
  std::string chunks = "[";
  for (size_t i = 0; i < r.chunks.size(); ++i) {
    const auto& c = r.chunks[i];
    std::string replicas = "[";
    for (size_t j = 0; j < c.replicas.size(); ++j) {
      const auto& v = c.replicas[j];
      replicas += std::string(j ? ", " : "") + JsonObject()
                                                   .Add("server_id", v.server_id)
                                                   .Add("address", v.address)
                                                   .Add("alive", v.alive)
                                                   .Add("row_version", v.row_version)
                                                   .Add("disk_version", v.disk_version)
                                                   .Add("disk_length", v.disk_length)
                                                   .Add("corrupt", v.corrupt)
                                                   .Add("state", v.state)
                                                   .str();
    }
    replicas += "]";
    chunks += std::string(i ? "," : "") + "\n    " +
              JsonObject()
                  .Add("chunk_id", c.chunk_id)
                  .Add("inode", static_cast<int64_t>(c.inode))
                  .Add("index", c.index)
                  .Add("version", c.version)
                  .Add("length", c.length)
                  .Add("goal", c.goal)
                  .Add("good", c.good)
                  .AddRaw("paths", JsonStrings(c.paths))
                  .AddRaw("problems", JsonStrings(c.problems))
                  .AddRaw("replicas", replicas)
                  .str();
  }
  chunks += r.chunks.empty() ? "]" : "\n  ]";
  std::string orphans = "[";
  for (size_t i = 0; i < r.orphans.size(); ++i) {
    const auto& o = r.orphans[i];
    orphans += std::string(i ? "," : "") + "\n    " +
               JsonObject()
                   .Add("server_id", o.server_id)
                   .Add("chunk_id", o.chunk_id)
                   .Add("version", o.version)
                   .Add("length", o.length)
                   .Add("age_ms", o.age_ms)
                   .Add("known_chunk", o.known_chunk)
                   .Add("queued", o.queued)
                   .Add("held", o.held)
                   .str();
  }
  orphans += r.orphans.empty() ? "]" : "\n  ]";
  std::vector<std::string> not_checked;
  std::string servers = "[";
  for (int id : r.not_checked) servers += (servers.size() > 1 ? ", " : "") + std::to_string(id);
  servers += "]";
  std::cout << "{\n  \"summary\": "
            << JsonObject()
                   .Add("chunks_checked", r.checked)
                   .Add("missing", r.Count("missing"))
                   .Add("changed", r.Count("changed"))
                   .Add("corrupt", r.Count("corrupt"))
                   .Add("stale", r.Count("stale"))
                   .Add("under_goal", r.Count("under_goal"))
                   .Add("over_goal", r.Count("over_goal"))
                   .Add("orphans", static_cast<int64_t>(r.orphans.size()) + r.orphans_not_listed)
                   .Add("clean", r.clean())
                   .str()
            << ",\n  \"servers_not_checked\": " << servers << ",\n  \"chunks\": " << chunks
            << ",\n  \"orphans\": " << orphans
            << ",\n  \"lost_files\": " << JsonStrings(FilesOfKind(r, "lost"))
            << ",\n  \"changed_files\": " << JsonStrings(FilesOfKind(r, "changed"));
  if (repair) std::cout << ",\n  \"repair_actions\": " << r.actions;
  std::cout << "\n}" << std::endl;
}

int RunFsck(Context& ctx, const FsckArgs& a) {
  auto path = NormalizePath(a.path);
  if (!path.ok()) {
    ctx.Fail("", path.status());
    return ctx.exit_code();
  }
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto report = Collect(*c, *path, a.repair);
  if (!report.ok()) {
    ctx.Fail(*path, report.status());
    return ctx.exit_code();
  }
  if (a.repair) {
    // The repair runs in the background: look again until only what cannot
    // be fixed is left, or the wait is over.
    std::set<std::pair<int, int64_t>> queued;
    for (const auto& o : report->orphans) {
      if (o.queued) queued.insert({o.server_id, o.chunk_id});
    }
    int64_t actions = report->actions;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.wait_s);
    while (!report->settled(queued) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto again = Collect(*c, *path, true);
      if (!again.ok()) {
        ctx.Fail(*path, again.status());
        return ctx.exit_code();
      }
      for (const auto& o : again->orphans) {
        if (o.queued) queued.insert({o.server_id, o.chunk_id});
      }
      actions += again->actions;
      report = std::move(again);
    }
    report->actions = actions;
    if (!report->settled(queued) && !ctx.quiet()) {
      ctx.Warn("the repair did not finish within " + std::to_string(a.wait_s) +
               " s; it goes on in the background (see ddbfs status)");
    }
  }
  if (a.json) {
    PrintJson(*report, a.repair);
  } else {
    PrintText(*report, a.repair);
  }
  if (ctx.exit_code() != 0) return ctx.exit_code();
  return report->clean() ? 0 : ExitCodeFor(ErrorCode::kIoError);
}

}  // namespace

Command FsckCommand() {
  return {"fsck",
          {},
          "compare the chunk map with every chunk server's replicas: missing, changed, corrupt, "
          "stale, orphaned, under and over goal chunks with their paths (exit 8 unless every "
          "chunk is at goal and nothing is missing, changed or corrupt; admins only)",
          [](CLI::App* app) {
            auto a = std::make_shared<FsckArgs>();
            app->add_option("PATH", a->path, "only the files under this DDBFS path (default /)");
            app->add_flag("--repair", a->repair,
                          "fix what can be fixed now (drop bad and stale replicas, delete "
                          "orphans, copy chunks back to goal), wait for it, and name the files "
                          "that lost data");
            app->add_option("--wait", a->wait_s, "with --repair: seconds to wait at most")
                ->capture_default_str()
                ->check(CLI::Range(0, 86400));
            app->add_flag("--json", a->json,
                          "one JSON object: summary, servers_not_checked, chunks, orphans, "
                          "lost_files, changed_files (and repair_actions)");
            return Runner([=](Context& ctx) { return RunFsck(ctx, *a); });
          }};
}

}  // namespace ddbfs::cli
