#include "metaserver/service/page_token.h"

#include <cstdlib>

#include <openssl/evp.h>

#include "ddbfs/auth.h"

namespace ddbfs::meta {

namespace {

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr char kCursorVersion = 1;

struct CipherCtx {
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) {
    if (ctx == nullptr) std::abort();
  }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  EVP_CIPHER_CTX* ctx;
};

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

void Put64(std::string* out, int64_t v) {
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
  }
}

// Reads what Put64 wrote; false when `in` is too short.
bool Get64(std::string_view* in, int64_t* v) {
  if (in->size() < 8) return false;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i)
    u |= static_cast<uint64_t>(static_cast<unsigned char>((*in)[i])) << (8 * i);
  *v = static_cast<int64_t>(u);
  in->remove_prefix(8);
  return true;
}

bool GetByte(std::string_view* in, unsigned char* b) {
  if (in->empty()) return false;
  *b = static_cast<unsigned char>((*in)[0]);
  in->remove_prefix(1);
  return true;
}

}  // namespace

PageTokenKey::PageTokenKey() : key_(RandomBytes(32)) {}

PageTokenKey::PageTokenKey(std::string_view cluster_secret)
    : key_(HmacSha256(cluster_secret, "ddbfs page token key v1")) {}

std::string PageTokenKey::Seal(std::string_view plain) const {
  std::string out = RandomBytes(kNonce);
  out.resize(kNonce + plain.size() + kTag);
  CipherCtx c;
  int len = 0;
  if (EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, U(key_), U(out)) != 1 ||
      EVP_EncryptUpdate(c.ctx, U(out) + kNonce, &len, U(plain), static_cast<int>(plain.size())) !=
          1 ||
      EVP_EncryptFinal_ex(c.ctx, U(out) + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTag, U(out) + kNonce + plain.size()) != 1) {
    std::abort();  // only an allocation failure can get here
  }
  return out;
}

Result<std::string> PageTokenKey::Open(std::string_view token) const {
  const Status bad = InvalidArgument(
      "the page token is not valid (changed, or from another metaserver cluster): start the "
      "listing again");
  if (token.size() < kNonce + kTag) return bad;
  const size_t n = token.size() - kNonce - kTag;
  std::string plain(n, '\0');
  std::string tag(token.substr(kNonce + n));
  CipherCtx c;
  int len = 0;
  if (EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, U(key_), U(token)) != 1 ||
      EVP_DecryptUpdate(c.ctx, U(plain), &len, U(token) + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTag, U(tag)) != 1 ||
      EVP_DecryptFinal_ex(c.ctx, U(plain) + len, &len) != 1) {
    return bad;
  }
  return plain;
}

std::string EncodeDuplicatesCursor(const DuplicatesCursor& c, InodeId under, bool empty) {
  std::string out(1, kCursorVersion);
  Put64(&out, under);
  out.push_back(empty ? 1 : 0);
  out.push_back(c.counting_stale ? 1 : 0);
  Put64(&out, c.size);
  out.push_back(static_cast<char>(c.sha256.size()));
  out.append(c.sha256);
  Put64(&out, c.inode);
  Put64(&out, c.pending);
  out.push_back(c.shown ? 1 : 0);
  Put64(&out, c.stale_after);
  return out;
}

Result<DuplicatesCursor> DecodeDuplicatesCursor(std::string_view in, InodeId under, bool empty) {
  const Status bad = InvalidArgument("the page token is not from this listing: start it again");
  DuplicatesCursor c;
  unsigned char version = 0, e = 0, stale = 0, sha_len = 0, shown = 0;
  int64_t token_under = 0;
  if (!GetByte(&in, &version) || version != kCursorVersion || !Get64(&in, &token_under) ||
      !GetByte(&in, &e) || !GetByte(&in, &stale) || !Get64(&in, &c.size) ||
      !GetByte(&in, &sha_len) || in.size() < sha_len) {
    return bad;
  }
  c.sha256 = std::string(in.substr(0, sha_len));
  in.remove_prefix(sha_len);
  if (!Get64(&in, &c.inode) || !Get64(&in, &c.pending) || !GetByte(&in, &shown) ||
      !Get64(&in, &c.stale_after) || !in.empty()) {
    return bad;
  }
  if (token_under != under || (e != 0) != empty) return bad;
  c.counting_stale = stale != 0;
  c.shown = shown != 0;
  return c;
}

}  // namespace ddbfs::meta
