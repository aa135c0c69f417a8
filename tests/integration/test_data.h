#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "ddbfs/client.h"

namespace ddbfs::testing {

// `size` pseudo-random bytes from `seed` (the same seed gives the same bytes).
inline std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < size; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// Creates /name in the root and writes `data` with Sync + Close.
inline Result<Attr> WriteFile(Client& c, const std::string& name, const std::string& data) {
  ASSIGN_OR_RETURN(Attr a, c.Create(1, name, 0644));
  ASSIGN_OR_RETURN(auto w, c.OpenWriter(a.inode));
  const size_t kPiece = 1 << 20;
  for (size_t off = 0; off < data.size(); off += kPiece) {
    size_t n = std::min(kPiece, data.size() - off);
    RETURN_IF_ERROR(w->Write(off, std::span<const char>(data.data() + off, n)));
  }
  RETURN_IF_ERROR(w->Sync());
  RETURN_IF_ERROR(w->Close());
  return c.GetAttr(a.inode);
}

// Reads the whole file.
inline Result<std::string> ReadFile(Client& c, InodeId inode) {
  ASSIGN_OR_RETURN(auto r, c.OpenReader(inode));
  std::string out(r->size(), '\0');
  size_t off = 0;
  while (off < out.size()) {
    ASSIGN_OR_RETURN(size_t n, r->Read(off, std::span<char>(out.data() + off, out.size() - off)));
    if (n == 0) return IoError("short read at " + std::to_string(off));
    off += n;
  }
  return out;
}

}  // namespace ddbfs::testing
