#pragma once

// BrowserModel: the Miller-columns tree over a cluster (docs/browser.md).
//
//   root ── Tags ── photo (120) ── year (80) ── =2021 (30) ── ... documents
//        │                      ├─ travel (12) ...
//        │                      └─ documents of "photo"
//        ├─ Folders ── the namespace from /
//        ├─ Queries ── saved queries ── co-occurring tags, documents
//        └─ Search  ── the search bar's query (once one ran)
//
// Like QFileSystemModel: hasChildren() answers from an item's kind without
// listing; canFetchMore()/fetchMore() ask the Backend for the next page on a
// worker and the rows are inserted on the GUI thread when it answers. A tag
// column is a ListTags within the selection so far (counts narrowed to it),
// then the selection's documents in pages of page_size().
//
// Thread-safety: GUI thread only (the Backend runs the requests).

#include <QAbstractItemModel>
#include <QPointer>
#include <QStringList>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "drag_mime.h"
#include "model_node.h"

namespace ddbfs::gui {

class BrowserModel : public QAbstractItemModel {
  Q_OBJECT

 public:
  enum Role {
    KindRole = Qt::UserRole + 1,  // int(ModelNode::Kind)
    CountRole,                    // documents (tags, values); -1 when none
    PathRole,                     // documents and folders: the DDBFS path
    InodeRole,                    // documents and folders (qlonglong)
    QueryRole,                    // the selection a node's children narrow
    TagRole,                      // kTag, kValue: the tag name
    ValueRole,                    // kValue: the value
    SizeRole,                     // documents: bytes (qulonglong)
  };
  static constexpr char kInodesMime[] = "application/x-ddbfs-inodes";
  static constexpr int kDefaultPageSize = 500;
  static constexpr int kDefaultTagPageSize = 1000;  // a tag column's first page

  explicit BrowserModel(Backend* backend, QObject* parent = nullptr);
  ~BrowserModel() override;

  // QAbstractItemModel.
  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  bool hasChildren(const QModelIndex& parent = {}) const override;
  bool canFetchMore(const QModelIndex& parent) const override;
  void fetchMore(const QModelIndex& parent) override;
  QStringList mimeTypes() const override;
  QMimeData* mimeData(const QModelIndexList& indexes) const override;
  bool canDropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                       const QModelIndex& parent) const override;
  bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                    const QModelIndex& parent) override;
  Qt::DropActions supportedDropActions() const override;
  Qt::DropActions supportedDragActions() const override;

  // The first column's rows.
  QModelIndex tagsIndex() const;
  QModelIndex foldersIndex() const;
  QModelIndex queriesIndex() const;
  // Makes the Search row (replacing an earlier one) select `query`.
  QModelIndex setSearch(const std::string& query);
  // The child of `parent` showing `name` (tags: the name; values: "=v").
  QModelIndex childNamed(const QModelIndex& parent, const QString& name) const;
  ModelNode::Kind kindOf(const QModelIndex& index) const;

  // Lists again the counts of the tag columns on the way to `current` and
  // of the Tags column, updating rows in place (after a tag change).
  void refreshCounts(const QModelIndex& current);
  // The live refresh (docs/browser.md, "Live refresh"): refreshCounts(current)
  // and, for the columns on the way to `current` (and its own), the
  // documents or folder entries loaded so far listed again and merged in
  // place: rows inserted, removed or updated, never a reset, so the
  // selection, the scroll position and the current item stay.
  void refreshLive(const QModelIndex& current);
  // Whether a drag out of the browser is going on (its data still alive).
  bool dragging() const;
  // Forgets what `index` has loaded and loads it again.
  void reload(const QModelIndex& index);
  // Removes the rows of `inode` from every loaded column (after a delete).
  void removeInode(InodeId inode);
  // Loads again what failed (after the connection came back).
  void retryFailed();

  // Shows the progress of the copies a drag out of the browser makes (the
  // window's progress dialog); see DragMimeData.
  void set_drag_progress_hook(DragMimeData::ProgressHook hook) { drag_hook_ = std::move(hook); }

  int page_size() const { return page_size_; }
  void set_page_size(int n) { page_size_ = n; }
  void set_tag_page_size(int n) { tag_page_size_ = n; }
  // Requests out (tests wait for 0).
  int outstanding() const { return outstanding_; }

 signals:
  // A page arrived for `parent` (rows inserted, or a phase finished).
  void pageLoaded(const QModelIndex& parent);
  void loadFailed(const QString& message);
  // Documents dropped on a tag or value: tag them with it.
  void tagDropRequested(const std::vector<ddbfs::InodeId>& inodes, const ddbfs::Tag& tag);
  // Local files dropped on a folder: add them there.
  void filesDropRequested(const QStringList& local_paths, const QString& folder);

 private:
  ModelNode* node(const QModelIndex& index) const;
  QModelIndex indexOf(ModelNode* n) const;
  ModelNode* AddChild(std::unique_ptr<ModelNode> child);  // registers it
  void Register(ModelNode* n);
  void Forget(ModelNode* n);  // n and its subtree
  void InsertChildren(ModelNode* parent, size_t at, std::vector<std::unique_ptr<ModelNode>> kids);
  void RemoveChildren(ModelNode* parent, size_t first, size_t count);
  void StartLoad(ModelNode* n);
  // Looks up the node a request was for; nullptr when it is gone or was
  // reloaded since. Also ends the request.
  ModelNode* Finish(uint64_t id, uint64_t generation);
  void Failed(ModelNode* n, const Status& s);
  // After a page of phase `was`: on to the next phase (loading it at once)
  // when this one is complete.
  void AdvanceIf(ModelNode* n, bool complete);
  std::unique_ptr<ModelNode> TagChild(ModelNode* parent, const TagCount& t) const;
  std::unique_ptr<ModelNode> EntryChild(ModelNode* parent, const std::string& path,
                                        const Attr& attr) const;
  // Whether n's tag rows are a valued tag's values.
  static bool ListsValues(const ModelNode* n);
  // Whether n's tag rows are complete (its tag listing came to its end).
  static bool TagsListed(const ModelNode* n);
  // New counts for n's tag rows; with insert_new, rows for new tags too.
  void MergeCounts(ModelNode* n, const std::vector<TagCount>& fresh, bool insert_new);
  // Lists n's loaded documents or entries again (refreshLive).
  void RefreshEntries(ModelNode* n);
  // Makes n's entry rows (after its tag rows) those of `fresh`, which is in
  // the order the metaserver lists them; rows match by inode (documents of a
  // query) or by name (a folder's entries).
  void MergeEntries(ModelNode* n, std::vector<std::unique_ptr<ModelNode>> fresh, bool by_inode);

  Backend* backend_;
  std::unique_ptr<ModelNode> root_;
  std::unordered_map<uint64_t, ModelNode*> live_;  // node id -> node
  std::unordered_map<const ModelNode*, uint64_t> ids_;
  uint64_t next_id_ = 1;
  int page_size_ = kDefaultPageSize;
  int tag_page_size_ = kDefaultTagPageSize;
  int outstanding_ = 0;
  DragMimeData::ProgressHook drag_hook_;
  mutable std::vector<QPointer<QMimeData>> drags_;  // alive while dragged
};

}  // namespace ddbfs::gui
