#include "metaserver/store/tag_index.h"

#include <algorithm>
#include <chrono>
#include <pqxx/pqxx>
#include <set>

#include "ddbfs/log.h"

namespace ddbfs::meta::store {

namespace {

constexpr int64_t kMaxId = 0xffffffffLL;

bool Ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A glob of the query language (* any run, ? one character) on bytes; the
// callers keep it to ASCII, where bytes are characters.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

template <typename T>
bool Compare(query::Op op, const T& a, const T& b) {
  switch (op) {
    case query::Op::kEq:
      return a == b;
    case query::Op::kNe:
      return a != b;
    case query::Op::kLt:
      return a < b;
    case query::Op::kLe:
      return a <= b;
    case query::Op::kGt:
      return a > b;
    case query::Op::kGe:
      return a >= b;
  }
  return false;
}

}  // namespace

TagIndex::TagIndex(std::string db_url) : db_url_(std::move(db_url)) {}

TagIndex::~TagIndex() {
  {
    std::lock_guard<std::mutex> lock(load_mu_);
    stopping_ = true;
  }
  load_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TagIndex::Start() {
  {
    std::lock_guard<std::mutex> lock(load_mu_);
    want_load_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

bool TagIndex::WaitReady(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!ready_.load()) {
    if (std::chrono::steady_clock::now() >= until || broken_.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void TagIndex::Invalidate() {
  ready_.store(false);
  {
    std::lock_guard<std::mutex> lock(load_mu_);
    want_load_ = true;
  }
  load_cv_.notify_all();
}

void TagIndex::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(load_mu_);
      load_cv_.wait(lock, [&] { return stopping_ || want_load_; });
      if (stopping_) return;
      want_load_ = false;
      loading_ = true;
      while_loading_.clear();
    }
    const auto start = std::chrono::steady_clock::now();
    Status s = Load();
    if (!s.ok()) {
      {
        std::lock_guard<std::mutex> lock(load_mu_);
        loading_ = false;
        if (!broken_.load()) want_load_ = true;  // try again
      }
      LOG(kWarn) << "tag index: " << s.message() << "; queries use SQL meanwhile";
      std::unique_lock<std::mutex> lock(load_mu_);
      load_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_; });
      continue;
    }
    std::shared_lock<std::shared_mutex> lock(mu_);
    LOG(kInfo) << "tag index: " << s_.any.cardinality() << " documents with tags, "
               << s_.tags.size() << " tags, loaded in "
               << std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count()
               << " ms";
  }
}

Status TagIndex::Load() {
  // Everything as of one snapshot; the changes committed since arrive in
  // while_loading_ and are applied after it, in order (applying one twice
  // changes nothing).
  State next;
  try {
    pqxx::connection conn(db_url_);
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>
        txn(conn);
    for (const auto& row : txn.exec("SELECT id, name FROM ddbfs.tags")) {
      const int64_t id = row[0].as<int64_t>();
      next.tags[id].name = row[1].as<std::string>();
      next.by_name[next.tags[id].name] = id;
    }
    for (const auto& row : txn.exec("SELECT tag_id, implied_id FROM ddbfs.tag_implies")) {
      next.rules.emplace_back(row[0].as<int64_t>(), row[1].as<int64_t>());
    }
    txn.exec(
        "DECLARE sizes NO SCROLL CURSOR FOR SELECT id, size FROM ddbfs.inodes"
        " WHERE type = 1 AND size > 0 AND id <= 4294967295");
    for (;;) {
      pqxx::result r = txn.exec("FETCH FORWARD 100000 FROM sizes");
      if (r.empty()) break;
      for (const auto& row : r) {
        next.docs[static_cast<uint32_t>(row[0].as<int64_t>())].size = row[1].as<uint64_t>();
      }
    }
    txn.exec(
        "DECLARE rows NO SCROLL CURSOR FOR SELECT inode, tag_id, has_value, value,"
        " value_num, value_ns FROM ddbfs.doc_tags");
    for (;;) {
      pqxx::result r = txn.exec("FETCH FORWARD 100000 FROM rows");
      if (r.empty()) break;
      for (const auto& row : r) {
        Row x;
        x.inode = row[0].as<int64_t>();
        x.tag = row[1].as<int64_t>();
        x.has_value = row[2].as<bool>();
        x.value = row[3].as<std::string>();
        if (!row[4].is_null()) x.num = row[4].as<double>();
        if (!row[5].is_null()) x.ns = row[5].as<int64_t>();
        if (!AddRow(next, x)) {
          broken_.store(true);
          return Status(ErrorCode::kNotSupported,
                        "inode " + std::to_string(x.inode) +
                            " is past 32 bits; the index stays off (SQL answers)");
        }
      }
    }
    txn.commit();
  } catch (const std::exception& e) {
    return Status(ErrorCode::kUnavailable, std::string("cannot load: ") + e.what());
  }
  for (auto& [id, t] : next.tags) t.docs.runOptimize();
  // load_mu_ before mu_, as in Change().
  std::lock_guard<std::mutex> load_lock(load_mu_);
  std::unique_lock<std::shared_mutex> lock(mu_);
  s_ = std::move(next);
  for (const Delta& d : while_loading_) Apply(s_, d);
  while_loading_.clear();
  loading_ = false;
  if (!want_load_ && !broken_.load()) ready_.store(true);
  return Status();
}

// ---- changes

void TagIndex::Change(Delta d) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  if (loading_) {
    while_loading_.push_back(std::move(d));
    return;
  }
  if (!ready_.load()) return;  // the next load reads it from the database
  std::unique_lock<std::shared_mutex> lock(mu_);
  Apply(s_, d);
}

void TagIndex::Added(const std::vector<Row>& rows) {
  if (rows.empty()) return;
  Delta d;
  d.kind = Delta::kAdd;
  d.rows = rows;
  Change(std::move(d));
}

void TagIndex::Removed(const std::vector<Row>& rows) {
  if (rows.empty()) return;
  Delta d;
  d.kind = Delta::kRemove;
  d.rows = rows;
  Change(std::move(d));
}

void TagIndex::DocumentGone(InodeId inode) {
  Delta d;
  d.kind = Delta::kGone;
  d.inode = inode;
  Change(std::move(d));
}

void TagIndex::SizeIs(InodeId inode, uint64_t size) {
  Delta d;
  d.kind = Delta::kSize;
  d.inode = inode;
  d.size = size;
  Change(std::move(d));
}

void TagIndex::NameAdded(int64_t tag, const std::string& name) {
  Delta d;
  d.kind = Delta::kName;
  d.tag = tag;
  d.name = name;
  Change(std::move(d));
}

void TagIndex::Renamed(int64_t tag, const std::string& name) {
  Delta d;
  d.kind = Delta::kRename;
  d.tag = tag;
  d.name = name;
  Change(std::move(d));
}

void TagIndex::Apply(State& s, const Delta& d) {
  switch (d.kind) {
    case Delta::kAdd:
      for (const Row& r : d.rows) (void)AddRow(s, r);
      return;
    case Delta::kRemove:
      for (const Row& r : d.rows) RemoveRow(s, r);
      return;
    case Delta::kGone: {
      if (d.inode > kMaxId) return;
      const uint32_t id = static_cast<uint32_t>(d.inode);
      auto it = s.docs.find(id);
      if (it == s.docs.end()) return;
      for (int64_t tag : it->second.tags) {
        TagEntry& t = s.tags[tag];
        t.docs.remove(id);
        for (auto& [v, e] : t.values) e.docs.remove(id);
        t.bytes -= static_cast<int64_t>(it->second.size);
      }
      s.docs.erase(it);
      s.any.remove(id);
      return;
    }
    case Delta::kSize: {
      if (d.inode > kMaxId) return;
      DocEntry& doc = s.docs[static_cast<uint32_t>(d.inode)];
      const int64_t delta = static_cast<int64_t>(d.size) - static_cast<int64_t>(doc.size);
      for (int64_t tag : doc.tags) s.tags[tag].bytes += delta;
      doc.size = d.size;
      return;
    }
    case Delta::kName:
      s.tags[d.tag].name = d.name;
      s.by_name[d.name] = d.tag;
      return;
    case Delta::kRename: {
      TagEntry& t = s.tags[d.tag];
      auto old = s.by_name.find(t.name);
      if (old != s.by_name.end() && old->second == d.tag) s.by_name.erase(old);
      t.name = d.name;
      s.by_name[d.name] = d.tag;
      return;
    }
  }
}

bool TagIndex::AddRow(State& s, const Row& r) {
  if (r.inode > kMaxId) return false;
  const uint32_t id = static_cast<uint32_t>(r.inode);
  TagEntry& t = s.tags[r.tag];
  if (t.name.empty() && !r.name.empty()) {
    t.name = r.name;
    s.by_name[r.name] = r.tag;
  }
  ValueEntry& v = t.values[r.has_value ? r.value : kPlain];
  v.docs.add(id);
  if (r.has_value) {
    v.num = r.num;
    v.ns = r.ns;
  }
  if (t.docs.contains(id)) return true;
  t.docs.add(id);
  DocEntry& doc = s.docs[id];
  doc.tags.push_back(r.tag);
  t.bytes += static_cast<int64_t>(doc.size);
  s.any.add(id);
  return true;
}

void TagIndex::RemoveRow(State& s, const Row& r) {
  if (r.inode > kMaxId) return;
  const uint32_t id = static_cast<uint32_t>(r.inode);
  auto tag = s.tags.find(r.tag);
  if (tag == s.tags.end()) return;
  TagEntry& t = tag->second;
  auto v = t.values.find(r.has_value ? r.value : kPlain);
  if (v != t.values.end()) {
    v->second.docs.remove(id);
    if (v->second.docs.isEmpty()) t.values.erase(v);
  }
  for (const auto& [k, e] : t.values) {
    if (e.docs.contains(id)) return;  // still carries the name
  }
  if (!t.docs.contains(id)) return;
  t.docs.remove(id);
  auto doc = s.docs.find(id);
  if (doc == s.docs.end()) return;
  t.bytes -= static_cast<int64_t>(doc->second.size);
  auto& list = doc->second.tags;
  list.erase(std::remove(list.begin(), list.end(), r.tag), list.end());
  if (list.empty()) s.any.remove(id);
}

// ---- reads

std::vector<int64_t> TagIndex::TagsNamed(const query::Node& n) const {
  std::vector<int64_t> out;
  if (!n.name_glob) {
    auto it = s_.by_name.find(n.name);
    if (it != s_.by_name.end()) out.push_back(it->second);
    return out;
  }
  for (const auto& [name, id] : s_.by_name) {
    if (GlobMatch(n.name, name)) out.push_back(id);
  }
  return out;
}

std::vector<int64_t> TagIndex::Implying(int64_t tag) const {
  std::vector<int64_t> out{tag};
  for (size_t k = 0; k < out.size() && out.size() < 100000; ++k) {
    for (const auto& [from, to] : s_.rules) {
      if (to == out[k] && std::find(out.begin(), out.end(), from) == out.end()) {
        out.push_back(from);
      }
    }
  }
  return out;
}

std::optional<TagIndex::Bitmap> TagIndex::Term(const query::Node& n, bool exact) const {
  // Names are stored in NFC; a name that is not ASCII may be spelled
  // otherwise in the query: only SQL decides it.
  if (!Ascii(n.name)) return std::nullopt;
  Bitmap out;
  const std::vector<int64_t> names = TagsNamed(n);
  if (!n.has_value) {
    std::set<int64_t> all;
    for (int64_t t : names) {
      for (int64_t i : Implying(t)) all.insert(i);
    }
    for (int64_t t : all) {
      auto it = s_.tags.find(t);
      if (it != s_.tags.end()) out |= it->second.docs;
    }
    return out;
  }
  const query::Value& v = n.value;
  const bool text_ok = Ascii(v.text);
  for (int64_t t : names) {
    auto it = s_.tags.find(t);
    if (it == s_.tags.end()) continue;
    for (const auto& [value, e] : it->second.values) {
      if (value == kPlain) continue;
      bool match;
      if (v.glob) {
        if (!text_ok || (!Ascii(value) && v.text.find('?') != std::string::npos)) {
          if (exact) return std::nullopt;
          match = true;
        } else {
          match = GlobMatch(v.text, value) == (n.op != query::Op::kNe);
        }
      } else if (v.kind == query::ValueKind::kNumber) {
        match = e.num && Compare(n.op, *e.num, v.number);
      } else if (v.kind == query::ValueKind::kTime) {
        match = e.ns && Compare(n.op, *e.ns, v.time_ns);
      } else if (!text_ok) {
        if (exact) return std::nullopt;
        match = true;
      } else {
        match = Compare(n.op, std::string_view(value), std::string_view(v.text));
      }
      if (match) out |= e.docs;
    }
  }
  return out;
}

std::optional<TagIndex::Bitmap> TagIndex::Exact(const query::Node& n) const {
  switch (n.kind) {
    case query::Node::Kind::kTag:
      return Term(n, true);
    case query::Node::Kind::kAnd:
    case query::Node::Kind::kOr: {
      std::optional<Bitmap> acc;
      for (const auto& c : n.children) {
        std::optional<Bitmap> b = Exact(*c);
        if (!b) return std::nullopt;
        if (!acc) {
          acc = std::move(b);
        } else if (n.kind == query::Node::Kind::kAnd) {
          *acc &= *b;
        } else {
          *acc |= *b;
        }
      }
      return acc;
    }
    case query::Node::Kind::kNot: {
      std::optional<Bitmap> b = Exact(*n.children.at(0));
      if (!b) return std::nullopt;
      return s_.any - *b;
    }
    case query::Node::Kind::kAttr:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<TagIndex::Narrowed> TagIndex::Candidates(const query::Node& q) {
  if (!ready_.load()) return std::nullopt;
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::function<std::optional<Bitmap>(const query::Node&)> walk =
      [&](const query::Node& n) -> std::optional<Bitmap> {
    switch (n.kind) {
      case query::Node::Kind::kTag:
        return Term(n, false);
      case query::Node::Kind::kAnd: {
        std::optional<Bitmap> acc;
        for (const auto& c : n.children) {
          std::optional<Bitmap> b = walk(*c);
          if (!b) continue;  // does not narrow
          if (!acc) {
            acc = std::move(b);
          } else {
            *acc &= *b;
          }
        }
        return acc;
      }
      case query::Node::Kind::kOr: {
        Bitmap acc;
        for (const auto& c : n.children) {
          std::optional<Bitmap> b = walk(*c);
          if (!b) return std::nullopt;
          acc |= *b;
        }
        return acc;
      }
      case query::Node::Kind::kNot:
      case query::Node::Kind::kAttr:
        return std::nullopt;
    }
    return std::nullopt;
  };
  std::optional<Bitmap> superset = walk(q);
  if (!superset) return std::nullopt;
  // Every match is a tagged document (it is in the superset), and among
  // the tagged documents Exact() decides exactly.
  if (std::optional<Bitmap> exact = Exact(q)) return Narrowed{std::move(*exact) & *superset, true};
  return Narrowed{std::move(*superset), false};
}

uint64_t TagIndex::BytesOf(const Bitmap& docs) const {
  uint64_t bytes = 0;
  for (uint32_t id : docs) {
    auto it = s_.docs.find(id);
    if (it != s_.docs.end()) bytes += it->second.size;
  }
  return bytes;
}

std::optional<std::vector<TagIndex::Count>> TagIndex::Counts(
    const query::Node* within, const std::optional<std::string>& name) {
  if (!ready_.load()) return std::nullopt;
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::optional<Bitmap> sel;
  if (within) {
    sel = Exact(*within);
    if (!sel) return std::nullopt;
  }
  std::vector<Count> out;
  if (name) {
    auto id = s_.by_name.find(*name);
    if (id == s_.by_name.end()) return out;
    const TagEntry& t = s_.tags.at(id->second);
    std::vector<const std::pair<const std::string, ValueEntry>*> values;
    for (const auto& v : t.values) {
      if (v.first != kPlain) values.push_back(&v);
    }
    // Numbers in order, then times, then text.
    std::sort(values.begin(), values.end(), [](auto* a, auto* b) {
      const ValueEntry& x = a->second;
      const ValueEntry& y = b->second;
      if (x.num.has_value() != y.num.has_value()) return x.num.has_value();
      if (x.num && *x.num != *y.num) return *x.num < *y.num;
      if (x.ns.has_value() != y.ns.has_value()) return x.ns.has_value();
      if (x.ns && *x.ns != *y.ns) return *x.ns < *y.ns;
      return a->first < b->first;
    });
    for (auto* v : values) {
      Count c{*name, v->first, 0, 0};
      if (sel) {
        const Bitmap both = v->second.docs & *sel;
        c.documents = static_cast<int64_t>(both.cardinality());
        c.bytes = static_cast<int64_t>(BytesOf(both));
      } else {
        c.documents = static_cast<int64_t>(v->second.docs.cardinality());
        c.bytes = static_cast<int64_t>(BytesOf(v->second.docs));
      }
      if (c.documents > 0) out.push_back(std::move(c));
    }
    return out;
  }
  if (sel) {
    // Among a selection: through the tags of each selected document (ten
    // or so each), not through every tag's bitmap.
    std::unordered_map<int64_t, std::vector<int64_t>> implied;  // tag -> what it implies
    for (const auto& [from, to] : s_.rules) {
      if (implied.count(from)) continue;
      std::vector<int64_t>& out = implied[from];
      std::vector<int64_t> todo{from};
      while (!todo.empty() && out.size() < 100000) {
        const int64_t t = todo.back();
        todo.pop_back();
        for (const auto& [f, i] : s_.rules) {
          if (f == t && i != from && std::find(out.begin(), out.end(), i) == out.end()) {
            out.push_back(i);
            todo.push_back(i);
          }
        }
      }
    }
    std::unordered_map<int64_t, std::pair<int64_t, int64_t>> acc;
    std::vector<int64_t> effective;
    for (uint32_t id : *sel) {
      auto doc = s_.docs.find(id);
      if (doc == s_.docs.end()) continue;
      effective = doc->second.tags;
      if (!implied.empty()) {
        for (int64_t t : doc->second.tags) {
          auto it = implied.find(t);
          if (it != implied.end())
            effective.insert(effective.end(), it->second.begin(), it->second.end());
        }
        std::sort(effective.begin(), effective.end());
        effective.erase(std::unique(effective.begin(), effective.end()), effective.end());
      }
      for (int64_t t : effective) {
        auto& a = acc[t];
        a.first += 1;
        a.second += static_cast<int64_t>(doc->second.size);
      }
    }
    for (const auto& [t, a] : acc) {
      auto tag = s_.tags.find(t);
      if (tag == s_.tags.end()) continue;
      out.push_back(Count{tag->second.name, std::nullopt, a.first, a.second});
    }
    std::sort(out.begin(), out.end(),
              [](const Count& x, const Count& y) { return x.name < y.name; });
    return out;
  }
  for (const auto& [tag_name, id] : s_.by_name) {
    const TagEntry& t = s_.tags.at(id);
    const std::vector<int64_t> implying = Implying(id);
    const Bitmap* docs = &t.docs;
    Bitmap merged;
    if (implying.size() > 1) {
      for (int64_t i : implying) {
        auto it = s_.tags.find(i);
        if (it != s_.tags.end()) merged |= it->second.docs;
      }
      docs = &merged;
    }
    Count c{tag_name, std::nullopt, 0, 0};
    c.documents = static_cast<int64_t>(docs->cardinality());
    c.bytes = implying.size() > 1 ? static_cast<int64_t>(BytesOf(*docs)) : t.bytes;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace ddbfs::meta::store
