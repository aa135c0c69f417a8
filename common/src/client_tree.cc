// Operations on whole subtrees, for the CLI (`rm -r`) and the browser
// (deleting a folder).

#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/parallel.h"

namespace ddbfs {

namespace {

std::string Child(const std::string& path, const std::string& name) {
  return path == "/" ? "/" + name : path + "/" + name;
}

}  // namespace

Status Client::RemoveContents(InodeId dir, const std::string& path, int jobs) {
  while (true) {
    // Entries go away as they are removed: always read the first page.
    ASSIGN_OR_RETURN(DirPage page, ReadDir(dir, "", 1000));
    if (page.entries.empty()) return Status();
    std::vector<Status> results(page.entries.size());
    ParallelFor(page.entries.size(), jobs, [&](size_t i) {
      const DirEntry& e = page.entries[i];
      if (e.attr.type == FileType::kDirectory) return;
      results[i] = Unlink(dir, e.name);
    });
    for (size_t i = 0; i < page.entries.size(); ++i) {
      const DirEntry& e = page.entries[i];
      const std::string sub = Child(path, e.name);
      if (e.attr.type != FileType::kDirectory) {
        if (!results[i].ok() && results[i].code() != ErrorCode::kNotFound) {
          return results[i].WithContext(sub);
        }
        continue;
      }
      RETURN_IF_ERROR(RemoveContents(e.attr.inode, sub, jobs));
      Status s = Rmdir(dir, e.name);
      if (!s.ok() && s.code() != ErrorCode::kNotFound) return s.WithContext(sub);
    }
  }
}

}  // namespace ddbfs
