#pragma once

#include <roaring/roaring.hh>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/query.h"
#include "ddbfs/status.h"

// The tags of every document in memory (docs/tags.md, "The in-memory
// index"): for each tag a compressed bitmap of the inodes that carry it and
// one per value, the documents' sizes, and maintained counts. PostgreSQL
// stays the truth: the metaserver is the only writer of tags, and every
// change reaches the index after its transaction committed (Tx::AfterCommit,
// from the rows the statement returned), before the caller is answered. It
// is loaded from the database at start and again after a change it does not
// follow row by row (tag rename, merge, delete, implication rules), on a
// thread of its own; until it is ready the callers use SQL.
//
// Inode ids must fit 32 bits (the bitmaps'); a larger one makes the index
// give up (not ready) for good, and SQL answers everything.
//
// Thread-safe.
namespace ddbfs::meta::store {

class TagIndex {
 public:
  using Bitmap = Roaring;

  // A tag row as stored (doc_tags).
  struct Row {
    InodeId inode = 0;
    int64_t tag = 0;
    bool has_value = false;
    std::string value;
    std::optional<double> num;
    std::optional<int64_t> ns;
    std::string name;  // of the tag, when it may be new (Added)
  };

  // `db_url`: the database to load from (its own connection).
  explicit TagIndex(std::string db_url);
  ~TagIndex();

  // Loads in the background (and again after Invalidate).
  void Start();
  bool ready() const { return ready_.load(); }
  // Waits until ready (tests, benchmarks); false after `timeout`.
  bool WaitReady(std::chrono::milliseconds timeout);

  // ---- changes, after their commit
  void Added(const std::vector<Row>& rows);
  void Removed(const std::vector<Row>& rows);
  // The inode went (its rows with it).
  void DocumentGone(InodeId inode);
  void SizeIs(InodeId inode, uint64_t size);
  void NameAdded(int64_t tag, const std::string& name);
  void Renamed(int64_t tag, const std::string& name);
  // Something changed that is followed by loading everything again.
  void Invalidate();

  // ---- reads (nullopt / false when not ready: use SQL)
  // The tagged inodes that `q` can select, or nullopt when the query does
  // not narrow to tags (a `not` or an @attribute alone): exactly those it
  // selects when `exact` (tags only, ASCII), else a superset that SQL must
  // decide one by one.
  struct Narrowed {
    Bitmap docs;
    bool exact = false;
  };
  std::optional<Narrowed> Candidates(const query::Node& q);
  struct Count {
    std::string name;
    std::optional<std::string> value;
    int64_t documents = 0;
    int64_t bytes = 0;
  };
  // ListTags for a caller who sees everything: every name (within: those
  // present among the documents `within` selects), or the values of
  // `name`. nullopt when not ready, or `within` is not something the index
  // decides exactly (an @attribute, a value that is not ASCII).
  std::optional<std::vector<Count>> Counts(const query::Node* within,
                                           const std::optional<std::string>& name);

 private:
  struct ValueEntry {
    Bitmap docs;
    std::optional<double> num;
    std::optional<int64_t> ns;
  };
  struct TagEntry {
    std::string name;
    Bitmap docs;        // carries the tag, with or without a value
    int64_t bytes = 0;  // sizes of docs
    std::map<std::string, ValueEntry> values;
  };
  struct DocEntry {
    uint64_t size = 0;
    std::vector<int64_t> tags;  // the tags it carries
  };
  struct Delta {
    enum Kind { kAdd, kRemove, kGone, kSize, kName, kRename };
    Kind kind = kAdd;
    std::vector<Row> rows;
    InodeId inode = 0;
    uint64_t size = 0;
    int64_t tag = 0;
    std::string name;
  };

  // What the index holds (one snapshot being loaded is another State).
  struct State {
    std::unordered_map<int64_t, TagEntry> tags;
    std::map<std::string, int64_t> by_name;
    std::vector<std::pair<int64_t, int64_t>> rules;  // (tag, implied)
    std::unordered_map<uint32_t, DocEntry> docs;
    Bitmap any;  // docs with a tag
  };
  // The values' key of a row without a value (no value can hold a NUL).
  static inline const std::string kPlain{"\0plain", 6};

  // False when the row's inode does not fit 32 bits.
  static bool AddRow(State& s, const Row& r);
  static void RemoveRow(State& s, const Row& r);
  static void Apply(State& s, const Delta& d);
  void Loop();
  Status Load();
  // Applied now when ready, kept for after the load while loading.
  void Change(Delta d);

  // REQUIRES: mu_ shared.
  std::vector<int64_t> TagsNamed(const query::Node& n) const;
  std::vector<int64_t> Implying(int64_t tag) const;  // tag and the tags that imply it
  std::optional<Bitmap> Term(const query::Node& n, bool exact) const;
  std::optional<Bitmap> Exact(const query::Node& n) const;
  uint64_t BytesOf(const Bitmap& docs) const;

  const std::string db_url_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> broken_{false};  // an inode id past 32 bits

  mutable std::shared_mutex mu_;
  State s_;  // GUARDED_BY(mu_)

  // Lock order: load_mu_, then mu_.
  std::mutex load_mu_;
  std::condition_variable load_cv_;
  bool want_load_ = false;            // GUARDED_BY(load_mu_)
  bool loading_ = false;              // GUARDED_BY(load_mu_)
  bool stopping_ = false;             // GUARDED_BY(load_mu_)
  std::vector<Delta> while_loading_;  // GUARDED_BY(load_mu_)
  std::thread thread_;
};

}  // namespace ddbfs::meta::store
