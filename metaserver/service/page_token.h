#pragma once

// Page tokens: where a paged listing goes on, handed to the client sealed
// (AES-256-GCM), so that a client can neither read nor forge one. A
// FindDuplicates cursor names the last document looked at, which the caller
// may not be allowed to see (its size and hash would tell what it holds).
//
// Thread-safety: a PageTokenKey is immutable after construction.

#include <string>
#include <string_view>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/content_hash.h"

namespace ddbfs::meta {

class PageTokenKey {
 public:
  // A key of this process alone (tokens die with it).
  PageTokenKey();
  // A key derived from the cluster key: tokens survive a restart and work
  // on every metaserver of the cluster.
  explicit PageTokenKey(std::string_view cluster_secret);

  std::string Seal(std::string_view plain) const;
  // kInvalidArgument when `token` was not sealed with this key or was
  // changed.
  Result<std::string> Open(std::string_view token) const;

 private:
  std::string key_;  // 32 bytes
};

// A FindDuplicates cursor with the request it belongs to, as token bytes.
std::string EncodeDuplicatesCursor(const DuplicatesCursor& c, InodeId under, bool empty);
// The cursor, or kInvalidArgument when the bytes are malformed or belong to
// a listing of another directory or with another `empty`.
Result<DuplicatesCursor> DecodeDuplicatesCursor(std::string_view bytes, InodeId under, bool empty);

}  // namespace ddbfs::meta
