// STUN on media ports: see stun.h.
#include "stun.h"

#include "bytes.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace rtpe {
namespace stun {

namespace {

constexpr uint32_t kCookie = 0x2112A442;
constexpr uint32_t kFingerprintXor = 0x5354554e;

constexpr uint16_t kAttrUsername = 0x0006;
constexpr uint16_t kAttrMessageIntegrity = 0x0008;
constexpr uint16_t kAttrErrorCode = 0x0009;
constexpr uint16_t kAttrUnknownAttributes = 0x000a;
constexpr uint16_t kAttrXorMappedAddress = 0x0020;
constexpr uint16_t kAttrPriority = 0x0024;
constexpr uint16_t kAttrUseCandidate = 0x0025;
constexpr uint16_t kAttrSoftware = 0x8022;
constexpr uint16_t kAttrFingerprint = 0x8028;
constexpr uint16_t kAttrIceControlled = 0x8029;
constexpr uint16_t kAttrIceControlling = 0x802a;

constexpr int kClassRequest = 0;
constexpr int kClassIndication = 1;
constexpr int kMethodBinding = 1;
constexpr uint16_t kBindingSuccess = 0x0101;
constexpr uint16_t kBindingError = 0x0111;

// The most unknown comprehension-required attributes listed in a 420 answer.
constexpr int kMaxUnknown = 15;
// Longest SOFTWARE value sent (RFC 5389: fewer than 128 characters).
constexpr size_t kMaxSoftware = 127;

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

constexpr std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = makeCrcTable();

// One HMAC context per engine thread, created on first use and reused: keying
// it again for every check allocates nothing.
struct MacContext {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  MacContext() {
    mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac) ctx = EVP_MAC_CTX_new(mac);
  }
  ~MacContext() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
  MacContext(const MacContext&) = delete;
  MacContext& operator=(const MacContext&) = delete;
};

// An answer under construction, in a fixed buffer.
class Writer {
 public:
  Writer(uint16_t type, const uint8_t* transaction) {
    put16(buf_, type);
    put16(buf_ + 2, 0);
    put32(buf_ + 4, kCookie);
    std::memcpy(buf_ + 8, transaction, 12);
    len_ = 20;
  }

  // Appends an attribute, zero-padded to 32 bits; silently drops what does not fit.
  uint8_t* attr(uint16_t type, const void* value, size_t vlen) {
    size_t padded = (vlen + 3) & ~static_cast<size_t>(3);
    if (len_ + 4 + padded > sizeof(buf_)) return nullptr;
    uint8_t* p = buf_ + len_;
    put16(p, type);
    put16(p + 2, static_cast<uint16_t>(vlen));
    if (vlen && value) std::memcpy(p + 4, value, vlen);
    std::memset(p + 4 + vlen, 0, padded - vlen);
    len_ += 4 + padded;
    return p + 4;
  }

  // MESSAGE-INTEGRITY over what is written so far, with the length field
  // counting the attribute itself (RFC 5389 15.4).
  bool integrity(const std::string& pwd) {
    put16(buf_ + 2, static_cast<uint16_t>(len_ - 20 + 24));
    const uint8_t* parts[1] = {buf_};
    size_t lens[1] = {len_};
    uint8_t digest[20];
    if (!hmacSha1(pwd, parts, lens, 1, digest)) return false;
    return attr(kAttrMessageIntegrity, digest, 20) != nullptr;
  }

  // FINGERPRINT over what is written so far; sets the final length.
  void finish() {
    put16(buf_ + 2, static_cast<uint16_t>(len_ - 20 + 8));
    uint8_t crc[4];
    put32(crc, fingerprint(buf_, len_));
    attr(kAttrFingerprint, crc, 4);
  }

  void software(const std::string& s) {
    if (!s.empty()) attr(kAttrSoftware, s.data(), s.size() < kMaxSoftware ? s.size() : kMaxSoftware);
  }

  void sendTo(int fd, const SockAddr& to) const {
    ssize_t r = sendto(fd, buf_, len_, MSG_DONTWAIT, &to.u.sa, to.len());
    (void)r;  // a lost answer is retransmitted by the peer
  }

 private:
  uint8_t buf_[512];
  size_t len_;
};

// The attributes of a request that matter here, pointing into the packet.
struct Attrs {
  const uint8_t* username = nullptr;
  uint16_t usernameLen = 0;
  const uint8_t* integrity = nullptr;  // the 20-byte HMAC value
  size_t integrityAt = 0;               // offset of the MESSAGE-INTEGRITY attribute header
  bool haveFingerprint = false;
  uint32_t fingerprint = 0;
  size_t fingerprintAt = 0;             // offset of the FINGERPRINT attribute header
  bool useCandidate = false;
  uint16_t unknown[kMaxUnknown];
  int unknownCount = 0;
};

// Parses the attributes between offsets 20 and end. Returns false on a
// malformed list or an unknown comprehension-required attribute.
bool parseAttrs(const uint8_t* d, size_t end, Attrs& a) {
  size_t off = 20;
  bool controlled = false, controlling = false;
  while (off < end) {
    if (end - off < 4) return false;
    uint16_t type = be16(d + off);
    uint16_t alen = be16(d + off + 2);
    size_t at = off;
    size_t padded = (static_cast<size_t>(alen) + 3) & ~static_cast<size_t>(3);
    if (off + 4 + padded > end) return false;
    const uint8_t* v = d + off + 4;
    off += 4 + padded;
    // After MESSAGE-INTEGRITY only FINGERPRINT may follow.
    if (a.integrity && type != kAttrFingerprint) return false;
    switch (type) {
      case kAttrUsername:
        a.username = v;
        a.usernameLen = alen;
        break;
      case kAttrMessageIntegrity:
        if (alen != 20) return false;
        a.integrity = v;
        a.integrityAt = at;
        break;
      case kAttrFingerprint:
        if (alen != 4) return false;
        a.haveFingerprint = true;
        a.fingerprint = be32(v);
        a.fingerprintAt = at;
        return a.unknownCount == 0;
      case kAttrUseCandidate:
        a.useCandidate = true;
        break;
      case kAttrIceControlled:
        if (controlling || alen != 8) return false;
        controlled = true;
        break;
      case kAttrIceControlling:
        if (controlled || alen != 8) return false;
        controlling = true;
        break;
      case kAttrPriority:
        if (alen != 4) return false;
        break;
      case kAttrXorMappedAddress:
        if (alen < 8) return false;
        break;
      case kAttrErrorCode:
        if (alen < 4) return false;
        break;
      case kAttrSoftware:
        break;
      default:
        // Comprehension-optional attributes (0x8000-0xffff) are skipped.
        if (type & 0x8000) break;
        a.unknown[a.unknownCount++] = type;
        if (a.unknownCount >= kMaxUnknown) return false;
        break;
    }
  }
  return a.unknownCount == 0;
}

void sendError(int fd, const SockAddr& to, const uint8_t* transaction, int code, const char* reason,
               const std::string& software, const uint16_t* unknown = nullptr, int unknownCount = 0) {
  Writer w(kBindingError, transaction);
  w.software(software);
  uint8_t ec[4 + 64];
  size_t rlen = std::strlen(reason);
  if (rlen > 64) rlen = 64;
  ec[0] = ec[1] = 0;
  ec[2] = static_cast<uint8_t>(code / 100);
  ec[3] = static_cast<uint8_t>(code % 100);
  std::memcpy(ec + 4, reason, rlen);
  w.attr(kAttrErrorCode, ec, 4 + rlen);
  if (unknownCount > 0) {
    uint8_t list[2 * kMaxUnknown];
    for (int i = 0; i < unknownCount; i++) put16(list + 2 * i, unknown[i]);
    w.attr(kAttrUnknownAttributes, list, 2 * static_cast<size_t>(unknownCount));
  }
  w.finish();
  w.sendTo(fd, to);
}

// True when USERNAME is "<ufrag>:<something>" for our ufrag.
bool usernameMatches(const Attrs& a, const std::string& ufrag) {
  const uint8_t* colon = static_cast<const uint8_t*>(std::memchr(a.username, ':', a.usernameLen));
  if (!colon) return false;
  size_t local = static_cast<size_t>(colon - a.username);
  size_t remote = a.usernameLen - local - 1;
  if (local == 0 || remote == 0) return false;
  return local == ufrag.size() && std::memcmp(a.username, ufrag.data(), local) == 0;
}

bool integrityMatches(const uint8_t* d, const Attrs& a, const std::string& pwd) {
  // The length field as it was when the sender computed the HMAC: up to and
  // including MESSAGE-INTEGRITY.
  uint8_t lenField[2];
  put16(lenField, static_cast<uint16_t>(a.integrityAt - 20 + 24));
  const uint8_t* parts[3] = {d, lenField, d + 4};
  size_t lens[3] = {2, 2, a.integrityAt - 4};
  uint8_t digest[20];
  if (!hmacSha1(pwd, parts, lens, 3, digest)) return false;
  return CRYPTO_memcmp(digest, a.integrity, 20) == 0;
}

}  // namespace

static std::string gSoftware = "rtpengine-ts";

void setSoftware(const std::string& name) { gSoftware = name; }
const std::string& software() { return gSoftware; }

uint32_t fingerprint(const uint8_t* data, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) c = kCrcTable[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return (c ^ 0xFFFFFFFFu) ^ kFingerprintXor;
}

bool hmacSha1(const std::string& key, const uint8_t* const* parts, const size_t* lens, int n, uint8_t out[20]) {
  thread_local MacContext mc;
  if (!mc.ctx) return false;
  OSSL_PARAM params[2];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA1"), 0);
  params[1] = OSSL_PARAM_construct_end();
  if (!EVP_MAC_init(mc.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params)) return false;
  for (int i = 0; i < n; i++) {
    if (!EVP_MAC_update(mc.ctx, parts[i], lens[i])) return false;
  }
  size_t outLen = 0;
  return EVP_MAC_final(mc.ctx, out, &outLen, 20) && outLen == 20;
}

bool looksLikeStun(const uint8_t* data, uint32_t len) {
  return len >= 20 && (data[0] & 0xC0) == 0 && be32(data + 4) == kCookie;
}

Outcome handle(const uint8_t* d, uint32_t len, int fd, const SockAddr& src, const IceCredentials& cred,
               const std::string& software, bool& useCandidate) {
  useCandidate = false;
  if (!looksLikeStun(d, len)) return Outcome::Ignored;
  size_t end = 20 + static_cast<size_t>(be16(d + 2));
  if (end > len || (end & 3) != 0) return Outcome::Ignored;
  uint16_t type = be16(d);
  int cls = ((type & 0x10) >> 4) | ((type & 0x100) >> 7);
  int method = (type & 0xf) | ((type & 0xe0) >> 1) | ((type & 0x3e00) >> 2);
  if (method != kMethodBinding) return Outcome::Ignored;
  if (cls == kClassIndication) return Outcome::Consumed;
  const uint8_t* transaction = d + 8;

  Attrs a;
  if (!parseAttrs(d, end, a)) {
    if (a.unknownCount == 0) return Outcome::Ignored;
    if (cls != kClassRequest) return Outcome::Ignored;
    sendError(fd, src, transaction, 420, "Unknown attribute", software, a.unknown, a.unknownCount);
    return Outcome::Rejected;
  }
  if (!a.haveFingerprint) return Outcome::Ignored;
  bool request = cls == kClassRequest;
  if (!a.integrity || (request && !a.username)) {
    if (!request) return Outcome::Ignored;
    sendError(fd, src, transaction, 400, "Bad request", software);
    return Outcome::Rejected;
  }
  if (fingerprint(d, a.fingerprintAt) != a.fingerprint) return Outcome::Ignored;
  // An ice-lite agent sends no checks, so responses are not for it.
  if (!request) return Outcome::Consumed;
  if (cred.empty() || !usernameMatches(a, cred.ufrag) || !integrityMatches(d, a, cred.pwd)) {
    sendError(fd, src, transaction, 401, "Unauthorized", software);
    return Outcome::Rejected;
  }

  Writer w(kBindingSuccess, transaction);
  w.software(software);
  uint8_t xma[20];
  xma[0] = 0;
  uint16_t port = src.port() ^ static_cast<uint16_t>(kCookie >> 16);
  put16(xma + 2, port);
  if (src.af() == AF_INET) {
    xma[1] = 0x01;
    const uint8_t* ip = reinterpret_cast<const uint8_t*>(&src.u.v4.sin_addr);
    for (int i = 0; i < 4; i++) xma[4 + i] = ip[i] ^ static_cast<uint8_t>(kCookie >> (24 - 8 * i));
    w.attr(kAttrXorMappedAddress, xma, 8);
  } else {
    xma[1] = 0x02;
    const uint8_t* ip = reinterpret_cast<const uint8_t*>(&src.u.v6.sin6_addr);
    uint8_t mask[16];
    put32(mask, kCookie);
    std::memcpy(mask + 4, transaction, 12);
    for (int i = 0; i < 16; i++) xma[4 + i] = ip[i] ^ mask[i];
    w.attr(kAttrXorMappedAddress, xma, 20);
  }
  if (!w.integrity(cred.pwd)) return Outcome::Ignored;
  w.finish();
  w.sendTo(fd, src);
  useCandidate = a.useCandidate;
  return Outcome::Success;
}

}  // namespace stun
}  // namespace rtpe
