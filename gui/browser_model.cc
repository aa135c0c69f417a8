#include "browser_model.h"

#include <QMimeData>
#include <QUrl>
#include <algorithm>
#include <map>

#include "ddbfs/constants.h"
#include "query_text.h"

namespace ddbfs::gui {

namespace {

using Kind = ModelNode::Kind;
using Phase = ModelNode::Phase;

// Values of one tag come in one request of at most this many (the
// metaserver's largest page of ListTags).
constexpr int kMaxValues = 100000;

std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The key a tag row is merged by.
std::string RowKey(const std::string& tag, const std::optional<std::string>& value) {
  return value ? tag + "=" + *value : tag;
}

}  // namespace

BrowserModel::BrowserModel(Backend* backend, QObject* parent)
    : QAbstractItemModel(parent), backend_(backend), root_(ModelNode::Make(Kind::kRoot, nullptr)) {
  Register(root_.get());
  auto tags = ModelNode::Make(Kind::kTagsCategory, root_.get());
  tags->name = "Tags";
  auto folders = ModelNode::Make(Kind::kFoldersCategory, root_.get());
  folders->name = "Folders";
  folders->path = "/";
  folders->attr.inode = kRootInode;
  folders->attr.type = FileType::kDirectory;
  auto queries = ModelNode::Make(Kind::kQueriesCategory, root_.get());
  queries->name = "Queries";
  AddChild(std::move(tags));
  AddChild(std::move(folders));
  AddChild(std::move(queries));
}

BrowserModel::~BrowserModel() = default;

// ---- bookkeeping

void BrowserModel::Register(ModelNode* n) {
  const uint64_t id = next_id_++;
  live_[id] = n;
  ids_[n] = id;
}

void BrowserModel::Forget(ModelNode* n) {
  for (auto& c : n->children) Forget(c.get());
  auto it = ids_.find(n);
  if (it != ids_.end()) {
    live_.erase(it->second);
    ids_.erase(it);
  }
}

ModelNode* BrowserModel::AddChild(std::unique_ptr<ModelNode> child) {
  ModelNode* raw = child.get();
  Register(raw);
  raw->parent->children.push_back(std::move(child));
  return raw;
}

ModelNode* BrowserModel::node(const QModelIndex& index) const {
  if (!index.isValid()) return root_.get();
  return static_cast<ModelNode*>(index.internalPointer());
}

QModelIndex BrowserModel::indexOf(ModelNode* n) const {
  if (!n || n == root_.get()) return {};
  return createIndex(n->row(), 0, n);
}

void BrowserModel::InsertChildren(ModelNode* parent, size_t at,
                                  std::vector<std::unique_ptr<ModelNode>> kids) {
  if (kids.empty()) return;
  beginInsertRows(indexOf(parent), static_cast<int>(at), static_cast<int>(at + kids.size() - 1));
  for (auto& k : kids) Register(k.get());
  parent->children.insert(parent->children.begin() + static_cast<std::ptrdiff_t>(at),
                          std::make_move_iterator(kids.begin()),
                          std::make_move_iterator(kids.end()));
  endInsertRows();
}

void BrowserModel::RemoveChildren(ModelNode* parent, size_t first, size_t count) {
  if (count == 0) return;
  beginRemoveRows(indexOf(parent), static_cast<int>(first), static_cast<int>(first + count - 1));
  auto begin = parent->children.begin() + static_cast<std::ptrdiff_t>(first);
  for (auto it = begin; it != begin + static_cast<std::ptrdiff_t>(count); ++it) Forget(it->get());
  if (first < parent->tag_rows) {
    parent->tag_rows -= std::min(parent->tag_rows - first, count);
  }
  parent->children.erase(begin, begin + static_cast<std::ptrdiff_t>(count));
  endRemoveRows();
}

// ---- QAbstractItemModel

QModelIndex BrowserModel::index(int row, int column, const QModelIndex& parent) const {
  ModelNode* p = node(parent);
  if (!p || column != 0 || row < 0 || row >= static_cast<int>(p->children.size())) return {};
  return createIndex(row, 0, p->children[static_cast<size_t>(row)].get());
}

QModelIndex BrowserModel::parent(const QModelIndex& child) const {
  if (!child.isValid()) return {};
  return indexOf(node(child)->parent);
}

int BrowserModel::rowCount(const QModelIndex& parent) const {
  if (parent.column() > 0) return 0;
  return static_cast<int>(node(parent)->children.size());
}

int BrowserModel::columnCount(const QModelIndex&) const { return 1; }

bool BrowserModel::hasChildren(const QModelIndex& parent) const {
  const ModelNode* n = node(parent);
  if (!n->children.empty()) return true;
  return n->may_have_children() && (!n->done() || n->loading);
}

bool BrowserModel::canFetchMore(const QModelIndex& parent) const {
  const ModelNode* n = node(parent);
  return n->may_have_children() && !n->done() && !n->failed;
}

void BrowserModel::fetchMore(const QModelIndex& parent) {
  ModelNode* n = node(parent);
  if (n->loading || n->failed || n->done()) return;
  StartLoad(n);
}

QVariant BrowserModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const ModelNode* n = node(index);
  switch (role) {
    case Qt::DisplayRole:
      return QString::fromStdString(n->name);
    case Qt::ToolTipRole:
      if (n->kind == Kind::kDocument || n->kind == Kind::kFolder) {
        return QString::fromStdString(n->path);
      }
      if (n->count >= 0) {
        return tr("%1: %n document(s)", "", static_cast<int>(n->count))
            .arg(QString::fromStdString(n->query));
      }
      if (!n->query.empty()) return QString::fromStdString(n->query);
      return {};
    case KindRole:
      return static_cast<int>(n->kind);
    case CountRole:
      return static_cast<qlonglong>(n->count);
    case PathRole:
      return QString::fromStdString(n->path);
    case InodeRole:
      return static_cast<qlonglong>(n->attr.inode);
    case QueryRole:
      return QString::fromStdString(n->query);
    case TagRole:
      return QString::fromStdString(n->tag);
    case ValueRole:
      return n->value ? QVariant(QString::fromStdString(*n->value)) : QVariant();
    case SizeRole:
      return static_cast<qulonglong>(n->attr.size);
    default:
      return {};
  }
}

Qt::ItemFlags BrowserModel::flags(const QModelIndex& index) const {
  if (!index.isValid()) return Qt::ItemIsDropEnabled;
  const ModelNode* n = node(index);
  Qt::ItemFlags f = Qt::ItemIsSelectable | Qt::ItemIsEnabled;
  switch (n->kind) {
    case Kind::kDocument:
      f |= Qt::ItemIsDragEnabled | Qt::ItemNeverHasChildren;
      break;
    case Kind::kFolder:
      f |= Qt::ItemIsDragEnabled | Qt::ItemIsDropEnabled;
      break;
    case Kind::kFoldersCategory:
    case Kind::kTag:
    case Kind::kValue:
      f |= Qt::ItemIsDropEnabled;
      break;
    default:
      break;
  }
  return f;
}

// ---- drag and drop

QStringList BrowserModel::mimeTypes() const { return {kInodesMime, "text/uri-list"}; }

QMimeData* BrowserModel::mimeData(const QModelIndexList& indexes) const {
  QStringList inodes;
  QStringList paths;
  std::vector<CopyOutItem> items;
  for (const QModelIndex& i : indexes) {
    const ModelNode* n = node(i);
    if (n->kind != Kind::kDocument && n->kind != Kind::kFolder) continue;
    inodes << QString::number(n->attr.inode);
    paths << QString::fromStdString(n->path);
    items.push_back({n->attr.inode, n->path, n->kind == Kind::kFolder});
  }
  // text/uri-list: local copies, made when a drop target asks for them.
  auto* m = new DragMimeData(backend_, std::move(items), drag_hook_);
  m->setData(kInodesMime, inodes.join('\n').toUtf8());
  m->setText(paths.join('\n'));
  std::erase_if(drags_, [](const QPointer<QMimeData>& d) { return d.isNull(); });
  drags_.emplace_back(m);
  return m;
}

bool BrowserModel::canDropMimeData(const QMimeData* data, Qt::DropAction, int, int,
                                   const QModelIndex& parent) const {
  const ModelNode* n = node(parent);
  if (data->hasFormat(kInodesMime)) return n->kind == Kind::kTag || n->kind == Kind::kValue;
  // Local files from outside (a drag out of the browser also offers
  // text/uri-list, but carries the inode format and is handled above).
  if (data->hasUrls()) return n->kind == Kind::kFolder || n->kind == Kind::kFoldersCategory;
  return false;
}

bool BrowserModel::dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                                const QModelIndex& parent) {
  if (!canDropMimeData(data, action, row, column, parent)) return false;
  const ModelNode* n = node(parent);
  if (data->hasFormat(kInodesMime)) {
    std::vector<InodeId> inodes;
    for (const QByteArray& line : data->data(kInodesMime).split('\n')) {
      bool ok = false;
      const qlonglong id = line.toLongLong(&ok);
      if (ok) inodes.push_back(id);
    }
    if (inodes.empty()) return false;
    emit tagDropRequested(inodes, Tag{n->tag, n->value});
    return true;
  }
  QStringList local;
  for (const QUrl& u : data->urls()) {
    if (u.isLocalFile()) local << u.toLocalFile();
  }
  if (local.isEmpty()) return false;
  emit filesDropRequested(local, QString::fromStdString(n->path));
  return true;
}

Qt::DropActions BrowserModel::supportedDropActions() const { return Qt::CopyAction; }
Qt::DropActions BrowserModel::supportedDragActions() const { return Qt::CopyAction; }

// ---- the first column and lookups

QModelIndex BrowserModel::tagsIndex() const { return index(0, 0); }
QModelIndex BrowserModel::foldersIndex() const { return index(1, 0); }
QModelIndex BrowserModel::queriesIndex() const { return index(2, 0); }

QModelIndex BrowserModel::setSearch(const std::string& query) {
  constexpr size_t kSearchRow = 3;
  if (root_->children.size() > kSearchRow) RemoveChildren(root_.get(), kSearchRow, 1);
  auto s = ModelNode::Make(Kind::kSearch, root_.get());
  s->name = "Search: " + query;
  s->query = query;
  std::vector<std::unique_ptr<ModelNode>> kids;
  kids.push_back(std::move(s));
  InsertChildren(root_.get(), kSearchRow, std::move(kids));
  return index(static_cast<int>(kSearchRow), 0);
}

QModelIndex BrowserModel::childNamed(const QModelIndex& parent, const QString& name) const {
  const ModelNode* p = node(parent);
  const std::string want = name.toStdString();
  for (size_t i = 0; i < p->children.size(); ++i) {
    if (p->children[i]->name == want) return index(static_cast<int>(i), 0, parent);
  }
  return {};
}

ModelNode::Kind BrowserModel::kindOf(const QModelIndex& index) const { return node(index)->kind; }

// ---- loading

std::unique_ptr<ModelNode> BrowserModel::TagChild(ModelNode* parent, const TagCount& t) const {
  auto c = ModelNode::Make(Kind::kTag, parent);
  c->name = t.name;
  c->tag = t.name;
  c->count = t.documents;
  c->bytes = t.bytes;
  c->within = parent->query;
  c->query = Narrow(parent->query, TagTerm(t.name, std::nullopt));
  c->used_tags.push_back(t.name);
  return c;
}

std::unique_ptr<ModelNode> BrowserModel::EntryChild(ModelNode* parent, const std::string& path,
                                                    const Attr& attr) const {
  const bool dir = attr.type == FileType::kDirectory;
  auto c = ModelNode::Make(dir ? Kind::kFolder : Kind::kDocument, parent);
  c->name = path == "/" ? "/" : BaseName(path);
  c->path = path;
  c->attr = attr;
  return c;
}

ModelNode* BrowserModel::Finish(uint64_t id, uint64_t generation) {
  --outstanding_;
  auto it = live_.find(id);
  if (it == live_.end()) return nullptr;
  ModelNode* n = it->second;
  if (n->generation != generation) return nullptr;
  n->loading = false;
  return n;
}

void BrowserModel::Failed(ModelNode* n, const Status& s) {
  n->failed = true;
  emit loadFailed(QString::fromStdString(s.ToString()));
}

void BrowserModel::AdvanceIf(ModelNode* n, bool complete) {
  if (complete) {
    ++n->phase;
    // The next phase's first page comes at once: the view asks for more
    // only when it scrolls near the end of rows it already has.
    if (!n->done()) {
      StartLoad(n);
      return;
    }
  }
  emit pageLoaded(indexOf(n));
}

void BrowserModel::StartLoad(ModelNode* n) {
  n->loading = true;
  n->failed = false;
  ++outstanding_;
  const uint64_t id = ids_.at(n);
  const uint64_t gen = n->generation;
  switch (n->current_phase()) {
    case Phase::kTagList:
    case Phase::kTags: {
      std::optional<std::string> within;
      if (n->current_phase() == Phase::kTags) within = n->query;
      const int offset = n->tag_offset;
      // The first page small, so that the column shows at once; the rest in
      // one more call (each call counts the whole selection again).
      const int limit = offset == 0 ? tag_page_size_ : kMaxValues;
      backend_->Run<Client::TagListPage>(
          this,
          [within, offset, limit](Client& c) {
            return c.ListTags(within, std::nullopt, offset, limit);
          },
          [this, id, gen](Result<Client::TagListPage> r) {
            ModelNode* n = Finish(id, gen);
            if (!n) return;
            if (!r.ok()) return Failed(n, r.status());
            n->tag_offset += static_cast<int>(r->tags.size());
            std::vector<std::unique_ptr<ModelNode>> kids;
            for (const TagCount& t : r->tags) {
              if (t.value) continue;
              if (std::find(n->used_tags.begin(), n->used_tags.end(), t.name) !=
                  n->used_tags.end()) {
                continue;
              }
              kids.push_back(TagChild(n, t));
            }
            const size_t at = n->tag_rows;
            n->tag_rows += kids.size();
            InsertChildren(n, at, std::move(kids));
            AdvanceIf(n, !r->more);
          });
      return;
    }
    case Phase::kValues: {
      std::optional<std::string> within;
      if (!n->within.empty()) within = n->within;
      const std::string name = n->tag;
      backend_->Run<Client::TagListPage>(
          this, [within, name](Client& c) { return c.ListTags(within, name, 0, kMaxValues); },
          [this, id, gen](Result<Client::TagListPage> r) {
            ModelNode* n = Finish(id, gen);
            if (!n) return;
            if (!r.ok()) return Failed(n, r.status());
            std::vector<TagCount> values;
            for (const TagCount& t : r->tags) {
              if (t.value) values.push_back(t);
            }
            if (values.empty()) return AdvanceIf(n, true);  // a plain tag
            std::sort(values.begin(), values.end(), [](const TagCount& a, const TagCount& b) {
              return ValueLess(*a.value, *b.value);
            });
            std::vector<std::unique_ptr<ModelNode>> kids;
            auto any = ModelNode::Make(Kind::kAnyValue, n);
            any->name = "(any value)";
            any->tag = n->tag;
            any->count = n->count;
            any->query = n->query;
            kids.push_back(std::move(any));
            for (const TagCount& t : values) {
              auto v = ModelNode::Make(Kind::kValue, n);
              v->name = "=" + *t.value;
              v->tag = n->tag;
              v->value = t.value;
              v->count = t.documents;
              v->bytes = t.bytes;
              v->query = Narrow(n->within, TagTerm(n->tag, t.value));
              kids.push_back(std::move(v));
            }
            n->tag_rows = kids.size();
            InsertChildren(n, 0, std::move(kids));
            n->phase = n->phases.size();  // the values are the column
            emit pageLoaded(indexOf(n));
          });
      return;
    }
    case Phase::kDocuments: {
      const std::string q = n->query;
      const InodeId after = n->doc_after;
      const int limit = page_size_;
      backend_->Run<Client::QueryPage>(
          this, [q, after, limit](Client& c) { return c.Query(q, after, limit); },
          [this, id, gen](Result<Client::QueryPage> r) {
            ModelNode* n = Finish(id, gen);
            if (!n) return;
            if (!r.ok()) return Failed(n, r.status());
            n->doc_after = r->next_after;
            std::vector<std::unique_ptr<ModelNode>> kids;
            for (const Client::QueryHit& h : r->hits) kids.push_back(EntryChild(n, h.path, h.attr));
            const bool empty_page = kids.empty();
            InsertChildren(n, n->children.size(), std::move(kids));
            // A short page with more after it: nothing new for the view to
            // scroll to, so ask for the rest at once.
            if (empty_page && r->more) return StartLoad(n);
            AdvanceIf(n, !r->more);
          });
      return;
    }
    case Phase::kDirectory: {
      const InodeId dir = n->attr.inode;
      const std::string after = n->dir_after;
      const int limit = page_size_;
      backend_->Run<DirPage>(
          this, [dir, after, limit](Client& c) { return c.ReadDir(dir, after, limit); },
          [this, id, gen](Result<DirPage> r) {
            ModelNode* n = Finish(id, gen);
            if (!n) return;
            if (!r.ok()) return Failed(n, r.status());
            if (!r->entries.empty()) n->dir_after = r->entries.back().name;
            std::vector<std::unique_ptr<ModelNode>> kids;
            for (const DirEntry& e : r->entries) {
              kids.push_back(EntryChild(n, JoinPath(n->path, e.name), e.attr));
            }
            InsertChildren(n, n->children.size(), std::move(kids));
            AdvanceIf(n, !r->more);
          });
      return;
    }
    case Phase::kQueries: {
      backend_->Run<std::vector<SavedQuery>>(
          this, [](Client& c) { return c.ListQueries(); },
          [this, id, gen](Result<std::vector<SavedQuery>> r) {
            ModelNode* n = Finish(id, gen);
            if (!n) return;
            if (!r.ok()) return Failed(n, r.status());
            std::vector<std::unique_ptr<ModelNode>> kids;
            for (const SavedQuery& q : *r) {
              auto c = ModelNode::Make(Kind::kSavedQuery, n);
              c->name = q.name;
              c->query = q.expr;
              kids.push_back(std::move(c));
            }
            InsertChildren(n, n->children.size(), std::move(kids));
            AdvanceIf(n, true);
          });
      return;
    }
    case Phase::kDone:
      --outstanding_;
      n->loading = false;
      return;
  }
}

// ---- keeping up with changes

void BrowserModel::refreshCounts(const QModelIndex& current) {
  std::vector<ModelNode*> nodes{root_->children[0].get()};
  for (ModelNode* n = node(current); n && n != root_.get(); n = n->parent) nodes.push_back(n);
  for (ModelNode* n : nodes) {
    // A column with tag rows, or whose tags were listed (even none: new
    // ones may come).
    if (n->kind != Kind::kTagsCategory && n->tag_rows == 0 && !TagsListed(n)) continue;
    const uint64_t id = ids_.at(n);
    const uint64_t gen = n->generation;
    std::optional<std::string> within;
    std::optional<std::string> name;
    if (ListsValues(n)) {
      if (!n->within.empty()) within = n->within;
      name = n->tag;
    } else if (n->kind != Kind::kTagsCategory) {
      within = n->query;
    }
    ++outstanding_;
    backend_->Run<Client::TagListPage>(
        this, [within, name](Client& c) { return c.ListTags(within, name, 0, kMaxValues); },
        [this, id, gen](Result<Client::TagListPage> r) {
          --outstanding_;
          auto it = live_.find(id);
          if (it == live_.end() || it->second->generation != gen || !r.ok()) return;
          // New tags only into a column listed to its end: a column still
          // paging gets them from its next page.
          MergeCounts(it->second, r->tags, TagsListed(it->second));
          emit pageLoaded(indexOf(it->second));
        });
  }
}

bool BrowserModel::dragging() const {
  std::erase_if(drags_, [](const QPointer<QMimeData>& d) { return d.isNull(); });
  return !drags_.empty();
}

void BrowserModel::refreshLive(const QModelIndex& current) {
  refreshCounts(current);
  for (ModelNode* n = node(current); n && n != root_.get(); n = n->parent) RefreshEntries(n);
}

void BrowserModel::RefreshEntries(ModelNode* n) {
  if (n->loading || n->failed || ListsValues(n)) return;
  const auto at = std::find_if(n->phases.begin(), n->phases.end(), [](Phase p) {
    return p == Phase::kDocuments || p == Phase::kDirectory;
  });
  if (at == n->phases.end()) return;
  const size_t entry_phase = static_cast<size_t>(at - n->phases.begin());
  if (n->phase < entry_phase) return;  // no entries asked for yet
  const bool by_inode = *at == Phase::kDocuments;
  const bool complete = n->phase > entry_phase;
  // Only what was loaded: up to the paging cursor unless the list is done.
  const InodeId doc_bound = n->doc_after;
  const std::string dir_bound = n->dir_after;
  if (!complete && (by_inode ? doc_bound == 0 : dir_bound.empty())) return;
  const uint64_t id = ids_.at(n);
  const uint64_t gen = n->generation;
  const size_t phase = n->phase;
  const std::string q = n->query;
  const InodeId dir = n->attr.inode;
  const std::string path = n->path;
  const int limit = page_size_;
  struct Entry {
    std::string path;
    Attr attr;
  };
  ++outstanding_;
  backend_->Run<std::vector<Entry>>(
      this,
      [=](Client& c) -> Result<std::vector<Entry>> {
        std::vector<Entry> out;
        if (by_inode) {
          InodeId after = 0;
          while (true) {
            ASSIGN_OR_RETURN(Client::QueryPage p, c.Query(q, after, limit));
            for (Client::QueryHit& h : p.hits) {
              if (!complete && h.attr.inode > doc_bound) return out;
              out.push_back({std::move(h.path), h.attr});
            }
            if (!p.more) return out;
            after = p.next_after;
          }
        }
        std::string after;
        while (true) {
          ASSIGN_OR_RETURN(DirPage p, c.ReadDir(dir, after, limit));
          if (!p.entries.empty()) after = p.entries.back().name;
          for (DirEntry& e : p.entries) {
            out.push_back({JoinPath(path, e.name), e.attr});
            if (!complete && e.name == dir_bound) return out;
          }
          if (!p.more) return out;
        }
      },
      [this, id, gen, phase, doc_bound, dir_bound, by_inode](Result<std::vector<Entry>> r) {
        --outstanding_;
        auto it = live_.find(id);
        if (it == live_.end() || !r.ok()) return;
        ModelNode* n = it->second;
        // A page loaded or a reload meanwhile: this answer is out of date.
        if (n->generation != gen || n->loading || n->phase != phase || n->doc_after != doc_bound ||
            n->dir_after != dir_bound) {
          return;
        }
        std::vector<std::unique_ptr<ModelNode>> fresh;
        for (const Entry& e : *r) fresh.push_back(EntryChild(n, e.path, e.attr));
        MergeEntries(n, std::move(fresh), by_inode);
      });
}

void BrowserModel::MergeEntries(ModelNode* n, std::vector<std::unique_ptr<ModelNode>> fresh,
                                bool by_inode) {
  auto key = [by_inode](const ModelNode& e) {
    return by_inode ? std::to_string(e.attr.inode) : e.name;
  };
  std::map<std::string, ModelNode*> by_key;
  for (auto& f : fresh) by_key[key(*f)] = f.get();
  // Rows that are gone, from the end (one removal each: the view keeps
  // the rows around them, their selection and its scroll position).
  for (size_t i = n->children.size(); i-- > n->tag_rows;) {
    if (!by_key.contains(key(*n->children[i]))) RemoveChildren(n, i, 1);
  }
  // What stays is in the metaserver's order, like `fresh`: walk both,
  // updating rows in place and inserting the new ones where they go.
  size_t row = n->tag_rows;
  for (auto& f : fresh) {
    if (row < n->children.size() && key(*n->children[row]) == key(*f)) {
      ModelNode* c = n->children[row].get();
      if (c->name != f->name || c->path != f->path || c->attr.size != f->attr.size ||
          c->attr.mtime_ns != f->attr.mtime_ns || c->attr.ctime_ns != f->attr.ctime_ns) {
        c->name = f->name;
        c->path = f->path;
        c->attr = f->attr;
        const QModelIndex ci = indexOf(c);
        emit dataChanged(ci, ci);
      }
      ++row;
      continue;
    }
    std::vector<std::unique_ptr<ModelNode>> one;
    one.push_back(std::move(f));
    InsertChildren(n, row, std::move(one));
    ++row;
  }
}

bool BrowserModel::ListsValues(const ModelNode* n) {
  return n->kind == Kind::kTag && n->tag_rows > 0 && n->children[0]->kind == Kind::kAnyValue;
}

bool BrowserModel::TagsListed(const ModelNode* n) {
  if (ListsValues(n)) return true;
  const auto at = std::find_if(n->phases.begin(), n->phases.end(),
                               [](Phase p) { return p == Phase::kTagList || p == Phase::kTags; });
  return at != n->phases.end() && n->phase > static_cast<size_t>(at - n->phases.begin());
}

void BrowserModel::MergeCounts(ModelNode* n, const std::vector<TagCount>& fresh, bool insert_new) {
  std::map<std::string, const TagCount*> by_key;
  for (const TagCount& t : fresh) by_key[RowKey(t.name, t.value)] = &t;
  // Rows that are there: new counts (0 when gone: the row stays, so that a
  // user looking at it keeps their place).
  for (size_t i = 0; i < n->tag_rows; ++i) {
    ModelNode* c = n->children[i].get();
    if (c->kind == Kind::kAnyValue) continue;
    auto it = by_key.find(RowKey(c->tag, c->value));
    const int64_t count = it == by_key.end() ? 0 : it->second->documents;
    if (it != by_key.end()) {
      c->bytes = it->second->bytes;
      by_key.erase(it);
    }
    if (c->count != count) {
      c->count = count;
      const QModelIndex ci = indexOf(c);
      emit dataChanged(ci, ci, {CountRole, Qt::ToolTipRole});
    }
  }
  if (!insert_new) return;
  // New rows, each at its place in the order.
  const bool values = ListsValues(n);
  for (const auto& [key, t] : by_key) {
    if (values != t->value.has_value()) continue;
    if (std::find(n->used_tags.begin(), n->used_tags.end(), t->name) != n->used_tags.end()) {
      continue;
    }
    std::unique_ptr<ModelNode> c;
    if (values) {
      c = ModelNode::Make(Kind::kValue, n);
      c->name = "=" + *t->value;
      c->tag = n->tag;
      c->value = t->value;
      c->count = t->documents;
      c->query = Narrow(n->within, TagTerm(n->tag, t->value));
    } else {
      c = TagChild(n, *t);
    }
    size_t at = 0;
    while (at < n->tag_rows) {
      const ModelNode* o = n->children[at].get();
      const bool before = o->kind == Kind::kAnyValue ||
                          (values ? ValueLess(*o->value, *c->value) : o->tag < c->tag);
      if (!before) break;
      ++at;
    }
    ++n->tag_rows;
    std::vector<std::unique_ptr<ModelNode>> kids;
    kids.push_back(std::move(c));
    InsertChildren(n, at, std::move(kids));
  }
}

void BrowserModel::reload(const QModelIndex& index) {
  ModelNode* n = node(index);
  if (n == root_.get()) return;
  RemoveChildren(n, 0, n->children.size());
  n->tag_rows = 0;
  n->phase = 0;
  n->phases = ModelNode::PhasesFor(n->kind);
  n->tag_offset = 0;
  n->doc_after = 0;
  n->dir_after.clear();
  n->failed = false;
  ++n->generation;
  if (n->loading) {
    n->loading = false;  // its answer is dropped (generation)
  }
  StartLoad(n);
}

void BrowserModel::removeInode(InodeId inode) {
  std::vector<ModelNode*> stack{root_.get()};
  while (!stack.empty()) {
    ModelNode* n = stack.back();
    stack.pop_back();
    for (size_t i = n->children.size(); i-- > 0;) {
      ModelNode* c = n->children[i].get();
      if ((c->kind == Kind::kDocument || c->kind == Kind::kFolder) && c->attr.inode == inode) {
        RemoveChildren(n, i, 1);
      } else {
        stack.push_back(c);
      }
    }
  }
}

void BrowserModel::retryFailed() {
  std::vector<ModelNode*> stack{root_.get()};
  while (!stack.empty()) {
    ModelNode* n = stack.back();
    stack.pop_back();
    if (n->failed) {
      n->failed = false;
      StartLoad(n);
    }
    for (auto& c : n->children) stack.push_back(c.get());
  }
}

}  // namespace ddbfs::gui
