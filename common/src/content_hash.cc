#include "ddbfs/content_hash.h"

#include <array>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <openssl/evp.h>

#include "ddbfs/constants.h"

namespace ddbfs {

namespace {

constexpr size_t kZeroBuffer = 1 << 20;
const std::array<char, kZeroBuffer>& Zeros() {
  static const std::array<char, kZeroBuffer> zeros{};
  return zeros;
}

// Every failure of these calls is an allocation failure or a broken
// OpenSSL; nothing sensible can go on.
void Check(int ok) {
  if (ok != 1) std::abort();
}

}  // namespace

std::string EmptySha256() { return Sha256Of(""); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  Check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr));
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(const Sha256& other) : ctx_(EVP_MD_CTX_new()), length_(other.length_) {
  if (ctx_ == nullptr) std::abort();
  Check(EVP_MD_CTX_copy_ex(ctx_, other.ctx_));
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) {
    Check(EVP_MD_CTX_copy_ex(ctx_, other.ctx_));
    length_ = other.length_;
  }
  return *this;
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(other.ctx_), length_(other.length_) {
  other.ctx_ = nullptr;
  other.length_ = 0;
}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  std::swap(length_, other.length_);
  return *this;
}

void Sha256::Update(std::string_view bytes) {
  Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()));
  length_ += bytes.size();
}

void Sha256::UpdateZeros(uint64_t n) {
  while (n > 0) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(n, kZeroBuffer));
    Update(std::string_view(Zeros().data(), step));
    n -= step;
  }
}

std::string Sha256::Digest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr) std::abort();
  Check(EVP_MD_CTX_copy_ex(copy, ctx_));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(copy, out, &len));
  EVP_MD_CTX_free(copy);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Sha256Of(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.Digest();
}

std::string ZeroSha256(uint64_t n) {
  static std::once_flag once;
  // snapshots[k]: the state after k MiB of zeros.
  static std::vector<Sha256> snapshots;
  std::call_once(once, [] {
    Sha256 h;
    for (uint64_t k = 0; k * kZeroBuffer <= kChunkSize; ++k) {
      snapshots.push_back(h);
      h.UpdateZeros(kZeroBuffer);
    }
  });
  const uint64_t k = std::min<uint64_t>(n / kZeroBuffer, snapshots.size() - 1);
  Sha256 h = snapshots[k];
  h.UpdateZeros(n - k * kZeroBuffer);
  return h.Digest();
}

}  // namespace ddbfs
