// ddbfs ls [-l] [-d] [--json] [PATH...]

#include <algorithm>
#include <iostream>
#include <memory>

#include "command.h"
#include "format.h"
#include "paths.h"

namespace ddbfs::cli {

namespace {

struct LsOptions {
  std::vector<std::string> paths;
  bool long_format = false;
  bool directory = false;
  bool json = false;
};

// Prints entries as they come, page by page, in the chosen format.
class Lister {
 public:
  Lister(Context& ctx, Client& client, const LsOptions& o) : ctx_(ctx), client_(client), o_(o) {}

  void Begin() {
    if (o_.json) std::cout << "[";
  }
  void End() {
    if (o_.json) std::cout << (printed_ ? "\n]" : "]") << std::endl;
    std::cout.flush();
  }

  // Lists one path (a directory's entries unless -d).
  void List(const std::string& given, bool header) {
    auto norm = NormalizePath(given);
    if (!norm.ok()) return ctx_.Fail("", norm.status());
    auto attr = client_.ResolvePath(*norm);
    if (!attr.ok()) return ctx_.Fail(*norm, attr.status());
    if (attr->type != FileType::kDirectory || o_.directory) {
      Print({DirEntry{*norm, *attr}}, ParentOf(*norm), true);
      return;
    }
    if (header && !o_.json) std::cout << (sections_++ ? "\n" : "") << *norm << ":\n";
    std::string after;
    while (true) {
      auto page = client_.ReadDir(attr->inode, after, 1000);
      if (!page.ok()) return ctx_.Fail(*norm, page.status());
      Print(page->entries, *norm, false);
      if (!page->more || page->entries.empty()) break;
      after = page->entries.back().name;
    }
  }

 private:
  // `as_path`: the entry's name is already its full path.
  void Print(const std::vector<DirEntry>& entries, const std::string& dir, bool as_path) {
    std::vector<std::string> targets(entries.size());
    if (o_.long_format || o_.json) {
      for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].attr.type != FileType::kSymlink) continue;
        auto t = client_.Readlink(entries[i].attr.inode);
        if (t.ok()) targets[i] = *t;
      }
    }
    if (o_.json) {
      for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        std::string path = as_path ? e.name : JoinPath(dir, e.name);
        std::string name = as_path ? BaseName(e.name) : e.name;
        if (name.empty()) name = "/";
        bool link = e.attr.type == FileType::kSymlink;
        std::cout << (printed_++ ? ",\n  " : "\n  ")
                  << EntryJson(name, path, e.attr, link ? &targets[i] : nullptr);
      }
      return;
    }
    if (!o_.long_format) {
      for (const auto& e : entries) std::cout << Shown(e.name) << '\n';
      return;
    }
    size_t w_nlink = 1, w_uid = 1, w_gid = 1, w_size = 1;
    for (const auto& e : entries) {
      w_nlink = std::max(w_nlink, std::to_string(e.attr.nlink).size());
      w_uid = std::max(w_uid, std::to_string(e.attr.uid).size());
      w_gid = std::max(w_gid, std::to_string(e.attr.gid).size());
      w_size = std::max(w_size, std::to_string(e.attr.size).size());
    }
    auto pad = [](const std::string& s, size_t w) {
      return std::string(w - std::min(w, s.size()), ' ') + s;
    };
    auto padr = [](const std::string& s, size_t w) {
      return s + std::string(w - std::min(w, s.size()), ' ');
    };
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      std::cout << ModeString(e.attr.type, e.attr.mode) << ' '
                << pad(std::to_string(e.attr.nlink), w_nlink) << ' '
                << padr(std::to_string(e.attr.uid), w_uid) << ' '
                << padr(std::to_string(e.attr.gid), w_gid) << ' '
                << pad(std::to_string(e.attr.size), w_size) << ' ' << ShortTime(e.attr.mtime_ns)
                << ' ' << Shown(e.name);
      if (e.attr.type == FileType::kSymlink) std::cout << " -> " << Shown(targets[i]);
      std::cout << '\n';
    }
  }

  Context& ctx_;
  Client& client_;
  const LsOptions& o_;
  int printed_ = 0;
  int sections_ = 0;
};

}  // namespace

Command LsCommand() {
  return {"ls", {"list"}, "list directories (names; -l details; --json)", [](CLI::App* app) {
            auto o = std::make_shared<LsOptions>();
            app->add_option("PATH", o->paths, "DDBFS paths (default /)");
            app->add_flag("-l", o->long_format, "long format: mode, links, owner, size, mtime");
            app->add_flag("-d,--directory", o->directory, "list directories themselves");
            app->add_flag("--json", o->json, "a JSON array of entries");
            return Runner([o](Context& ctx) {
              if (o->paths.empty()) o->paths.push_back("/");
              Client* client = ctx.client();
              if (!client) return ctx.exit_code();
              Lister lister(ctx, *client, *o);
              lister.Begin();
              for (const auto& p : o->paths) {
                if (ctx.aborted()) break;
                lister.List(p, o->paths.size() > 1);
              }
              lister.End();
              return ctx.exit_code();
            });
          }};
}

}  // namespace ddbfs::cli
