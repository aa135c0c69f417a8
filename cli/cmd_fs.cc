// Namespace commands: ddbfs mkdir [-p], rm [-r], mv.

#include <memory>

#include "command.h"
#include "paths.h"
#include "progress.h"

namespace ddbfs::cli {

namespace {

constexpr uint32_t kDirMode = 0755;
constexpr int kRemoveJobs = 8;

// mkdir -p: every missing component is created; existing directories are fine.
Status MkdirParents(Client& client, const std::string& path) {
  Attr cur;
  ASSIGN_OR_RETURN(cur, client.ResolvePath("/"));
  std::string sofar;
  size_t start = 1;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string name = path.substr(start, end - start);
    sofar += "/" + name;
    start = end + 1;
    auto next = client.Lookup(cur.inode, name);
    if (!next.ok() && next.status().code() == ErrorCode::kNotFound) {
      next = client.Mkdir(cur.inode, name, kDirMode);
      if (!next.ok() && next.status().code() == ErrorCode::kExists) {
        next = client.Lookup(cur.inode, name);  // made by someone else meanwhile
      }
    }
    if (!next.ok()) return next.status();
    if (next->type != FileType::kDirectory) {
      return Status(ErrorCode::kNotDir,
                    sofar + " exists and is not a directory — check the path with `ddbfs ls`");
    }
    cur = *next;
  }
  return Status();
}

int RunMkdir(Context& ctx, const std::vector<std::string>& paths, bool parents) {
  return ctx.ForEachPath(paths, [&](Client& client, const std::string& path) {
    if (path == "/") {
      if (!parents) ctx.Fail("/", AlreadyExists("/"));
      return;
    }
    if (parents) {
      Status s = MkdirParents(client, path);
      if (!s.ok()) ctx.Fail(path, s);
      return;
    }
    auto pn = ResolveParent(client, path);
    if (!pn.ok()) {
      ctx.Fail(path, pn.status());
      return;
    }
    auto made = client.Mkdir(pn->parent.inode, pn->name, kDirMode);
    if (!made.ok()) {
      if (made.status().code() == ErrorCode::kExists) {
        ctx.FailText(path, ErrorCode::kExists, "already exists — use mkdir -p to accept that");
      } else {
        ctx.Fail(path, made.status());
      }
    }
  });
}

int RunRm(Context& ctx, const std::vector<std::string>& paths, bool recursive) {
  return ctx.ForEachPath(paths, [&](Client& client, const std::string& path) {
    if (path == "/") {
      ctx.FailText("/", ErrorCode::kInvalidArgument,
                   "refusing to remove the root — remove its entries one by one");
      return;
    }
    auto attr = client.ResolvePath(path);
    if (!attr.ok()) {
      ctx.Fail(path, attr.status());
      return;
    }
    auto pn = ResolveParent(client, path);
    if (!pn.ok()) {
      ctx.Fail(path, pn.status());
      return;
    }
    if (attr->type == FileType::kDirectory) {
      if (!recursive) {
        ctx.FailText(path, ErrorCode::kIsDir, "is a directory; use rm -r");
        return;
      }
      Status s = client.RemoveContents(attr->inode, path, kRemoveJobs);
      if (s.ok()) s = client.Rmdir(pn->parent.inode, pn->name);
      if (!s.ok()) ctx.Fail(path, s);
      return;
    }
    Status s = client.Unlink(pn->parent.inode, pn->name);
    if (!s.ok()) ctx.Fail(path, s);
  });
}

int RunMv(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) throw UsageError{"mv takes exactly SRC and DEST"};
  auto fail = [&](const std::string& subject, const Status& s) {
    ctx.Fail(subject, s);
    return ctx.exit_code();
  };
  auto src = NormalizePath(args[0]);
  auto dst = NormalizePath(args[1]);
  if (!src.ok()) return fail("", src.status());
  if (!dst.ok()) return fail("", dst.status());
  Client* client = ctx.client();
  if (!client) return ctx.exit_code();
  if (*src == "/") {
    ctx.FailText("/", ErrorCode::kInvalidArgument, "the root cannot be moved");
    return ctx.exit_code();
  }
  auto src_attr = client->ResolvePath(*src);
  if (!src_attr.ok()) return fail(*src, src_attr.status());
  auto from = ResolveParent(*client, *src);
  if (!from.ok()) return fail(*src, from.status());

  InodeId new_parent = 0;
  std::string new_name;
  std::string target = *dst;
  auto dst_attr = client->ResolvePath(*dst);
  if (dst_attr.ok() && dst_attr->type == FileType::kDirectory) {
    new_parent = dst_attr->inode;
    new_name = from->name;
    target = JoinPath(*dst, from->name);
  } else if (dst_attr.ok()) {
    ctx.FailText(*dst, ErrorCode::kExists, "already exists; use `ddbfs rm` first");
    return ctx.exit_code();
  } else if (dst_attr.status().code() == ErrorCode::kNotFound) {
    auto to = ResolveParent(*client, *dst);
    if (!to.ok()) return fail(*dst, to.status());
    new_parent = to->parent.inode;
    new_name = to->name;
  } else {
    return fail(*dst, dst_attr.status());
  }
  Status s = client->Rename(from->parent.inode, from->name, new_parent, new_name,
                            Client::kRenameNoReplace);
  if (s.code() == ErrorCode::kExists) {
    ctx.FailText(target, ErrorCode::kExists, "already exists; use `ddbfs rm` first");
  } else if (!s.ok()) {
    ctx.Fail(*src + " -> " + target, s);
  }
  return ctx.exit_code();
}

}  // namespace

Command MkdirCommand() {
  return {"mkdir", {}, "create directories", [](CLI::App* app) {
            auto paths = std::make_shared<std::vector<std::string>>();
            auto parents = std::make_shared<bool>(false);
            app->add_option("PATH", *paths, "directories to create")->required();
            app->add_flag("-p,--parents", *parents,
                          "create missing parents; no error if it exists");
            return Runner([=](Context& ctx) { return RunMkdir(ctx, *paths, *parents); });
          }};
}

Command RmCommand() {
  return {"rm",
          {"delete", "remove"},
          "remove files, links and (with -r) directories",
          [](CLI::App* app) {
            auto paths = std::make_shared<std::vector<std::string>>();
            auto recursive = std::make_shared<bool>(false);
            app->add_option("PATH", *paths, "paths to remove")->required();
            app->add_flag("-r,-R,--recursive", *recursive, "remove directories and their contents");
            return Runner([=](Context& ctx) { return RunRm(ctx, *paths, *recursive); });
          }};
}

Command MvCommand() {
  return {"mv",
          {"move", "rename"},
          "move or rename (into DEST if it is a directory)",
          [](CLI::App* app) {
            auto args = std::make_shared<std::vector<std::string>>();
            app->add_option("SRC DEST", *args, "source and destination")->required();
            return Runner([=](Context& ctx) { return RunMv(ctx, *args); });
          }};
}

}  // namespace ddbfs::cli
