// ddbfs dupes [PATH] [-S] [--empty] [--json]: documents with the same
// content, grouped as fdupes prints them (docs/content_hash.md, docs/cli.md).

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "ddbfs/auth.h"
#include "format.h"
#include "paths.h"

namespace ddbfs::cli {

namespace {

struct DupesArgs {
  std::string path = "/";
  bool size = false;   // -S: "N bytes each:" above each group
  bool empty = false;  // empty files are duplicates of each other too
  bool json = false;
};

// Prints groups as they complete (a group may go on in the next page), each
// by path.
class GroupPrinter {
 public:
  explicit GroupPrinter(const DupesArgs& a) : a_(a) {}

  void Add(Client::DuplicateEntry e) {
    if (!group_.empty() &&
        (e.attr.size != group_.front().attr.size || e.sha256 != group_.front().sha256)) {
      Flush();
    }
    group_.push_back(std::move(e));
  }

  // Prints the group held, if any.
  void Flush() {
    if (group_.empty()) return;
    std::sort(group_.begin(), group_.end(),
              [](const auto& x, const auto& y) { return x.path < y.path; });
    std::string out;
    if (a_.json) {
      std::string docs;
      for (const Client::DuplicateEntry& e : group_) {
        docs += (docs.empty() ? "" : ", ") + JsonObject()
                                                 .Add("path", e.path)
                                                 .Add("inode", static_cast<int64_t>(e.attr.inode))
                                                 .Add("mtime_ns", e.attr.mtime_ns)
                                                 .str();
      }
      out = (groups_ ? ",\n    " : "\n    ") + JsonObject()
                                                   .Add("size", group_.front().attr.size)
                                                   .Add("sha256", ToHex(group_.front().sha256))
                                                   .AddRaw("documents", "[" + docs + "]")
                                                   .str();
    } else {
      if (a_.size) out += std::to_string(group_.front().attr.size) + " bytes each:\n";
      for (const Client::DuplicateEntry& e : group_) out += Shown(e.path) + '\n';
      out += '\n';
    }
    ++groups_;
    group_.clear();
    std::cout << out << std::flush;
  }

  int64_t groups() const { return groups_; }

 private:
  const DupesArgs& a_;
  std::vector<Client::DuplicateEntry> group_;
  int64_t groups_ = 0;
};

int RunDupes(Context& ctx, const DupesArgs& a) {
  auto path = NormalizePath(a.path);
  if (!path.ok()) {
    ctx.Fail("", path.status());
    return ctx.exit_code();
  }
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto dir = c->ResolvePath(*path);
  if (!dir.ok()) {
    ctx.Fail(*path, dir.status());
    return ctx.exit_code();
  }
  if (dir->type != FileType::kDirectory) {
    ctx.Fail(*path, Status(ErrorCode::kNotDir, "not a directory"),
             "give a directory: dupes compares the documents below it");
    return ctx.exit_code();
  }
  GroupPrinter printer(a);
  if (a.json) std::cout << "{\n  \"groups\": [" << std::flush;
  int64_t stale = 0;
  std::optional<std::string> token;
  do {
    auto page = c->FindDuplicates(dir->inode, a.empty, token);
    if (!page.ok()) {
      printer.Flush();
      if (a.json) std::cout << "\n  ]\n}" << std::endl;
      ctx.Fail(*path, page.status());
      return ctx.exit_code();
    }
    for (Client::DuplicateEntry& e : page->entries) printer.Add(std::move(e));
    stale += page->stale;
    token = std::move(page->next);
  } while (token);
  printer.Flush();
  if (a.json) {
    std::cout << (printer.groups() ? "\n  ]" : "]") << ",\n  \"skipped_stale\": " << stale << "\n}"
              << std::endl;
  }
  if (stale > 0 && !ctx.quiet()) {
    ctx.Warn(std::to_string(stale) + (stale == 1 ? " document" : " documents") +
             " skipped: content hash stale (being recomputed in the background; run again "
             "later)");
  }
  return ctx.exit_code();
}

}  // namespace

Command DupesCommand() {
  return {"dupes",
          {},
          "documents with the same content below PATH (default /), in groups separated by "
          "blank lines, as fdupes prints them",
          [](CLI::App* app) {
            auto a = std::make_shared<DupesArgs>();
            app->add_option("PATH", a->path, "DDBFS directory (default /)");
            app->add_flag("-S,--size", a->size, "print the size of each group's documents");
            app->add_flag("--empty", a->empty,
                          "empty files count as duplicates of each other (not by default)");
            app->add_flag("--json", a->json,
                          "one JSON object: groups (size, sha256, documents) and skipped_stale");
            return Runner([=](Context& ctx) { return RunDupes(ctx, *a); });
          }};
}

}  // namespace ddbfs::cli
