#pragma once

// SHA-256 as DDBFS uses it for content hashes (docs/content_hash.md): the
// hash of a chunk's bytes, computed by chunk servers as the bytes arrive,
// and a document's hash, the SHA-256 of its chunks' SHA-256s.
//
// Thread-safety: a Sha256 is used by one thread at a time; the free
// functions may be called from any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/types.h>

namespace ddbfs {

// Raw bytes of a SHA-256 digest.
inline constexpr size_t kSha256Bytes = 32;
// Files larger than this (65,536 chunks) have no content hash: putting one
// together would take too long (docs/content_hash.md).
inline constexpr uint64_t kMaxHashedSize = 4ull << 40;
// SHA-256 of the empty string, as raw bytes: the hash of an empty document.
std::string EmptySha256();

// Incremental SHA-256 (OpenSSL's EVP). A copy is a snapshot of the state:
// both go on independently.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;

  void Update(std::string_view bytes);
  // As Update with `n` zero bytes.
  void UpdateZeros(uint64_t n);
  // Bytes hashed so far.
  uint64_t length() const { return length_; }
  // The digest of what was hashed so far (raw bytes); the state is kept, so
  // hashing can go on.
  std::string Digest() const;

 private:
  EVP_MD_CTX* ctx_ = nullptr;
  uint64_t length_ = 0;
};

// SHA-256 of `bytes`, raw.
std::string Sha256Of(std::string_view bytes);

// SHA-256 of `n` zero bytes, n <= kChunkSize: the hash of a hole in a file.
// Computed from snapshots taken every MiB of one pass over a chunk of zeros
// (made once, on first use, ~30 ms), so each call hashes less than a MiB.
std::string ZeroSha256(uint64_t n);

}  // namespace ddbfs
