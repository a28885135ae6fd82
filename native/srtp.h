// SRTP and SRTCP (RFC 3711) for one stream, keyed by SDES (RFC 4568), on top of
// libsrtp2.
//
// A stream that talks to an SRTP peer holds one SrtpPair: `in` unprotects what
// the peer sends (the key the peer announced), `out` protects what this daemon
// sends to the peer (the key this daemon announced to it). The same pair serves
// RTP and RTCP (muxed or on the RTCP stream's own pair).
//
// Threads. A pair is created on the JavaScript thread (configure), handed to the
// engine thread through the stream's hot copy and from then on used by that
// thread only: libsrtp contexts keep per-packet state (rollover counter, replay
// window) and are not thread-safe. libsrtp allocates a per-SSRC context the
// first time it sees an SSRC; nothing is allocated per packet after that.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace rtpe {

// The crypto suites, in the order this daemon offers them (src/crypto/sdes.ts
// holds the same numbering). 0 = no SRTP.
enum class SrtpSuite : uint8_t {
  None = 0,
  AeadAes256Gcm = 1,
  AeadAes128Gcm = 2,
  Aes256CmSha1_80 = 3,
  Aes256CmSha1_32 = 4,
  Aes192CmSha1_80 = 5,
  Aes192CmSha1_32 = 6,
  Aes128CmSha1_80 = 7,
  Aes128CmSha1_32 = 8,
  NullSha1_80 = 9,
  NullSha1_32 = 10,
};
constexpr unsigned kSrtpSuiteCount = 10;

// RFC 4568 session parameters that change the transform.
enum SrtpParams : uint32_t {
  kUnencryptedSrtp = 1,
  kUnencryptedSrtcp = 2,
  kUnauthenticatedSrtp = 4,
};

// One direction's keying: suite, master key followed by master salt, session
// parameters.
struct SrtpKey {
  SrtpSuite suite = SrtpSuite::None;
  uint8_t keyLen = 0;
  uint8_t key[64] = {};
  uint32_t params = 0;
  bool operator==(const SrtpKey& o) const;
  bool operator!=(const SrtpKey& o) const { return !(*this == o); }
  // The length of master key plus salt the suite needs, 0 for an unknown suite.
  static unsigned keyLength(SrtpSuite s);
};

// One libsrtp session (all SSRCs of one direction).
class SrtpContext {
 public:
  // Returns null and sets err when libsrtp refuses the key.
  static std::unique_ptr<SrtpContext> create(const SrtpKey& k, bool inbound, std::string& err);
  ~SrtpContext();
  SrtpContext(const SrtpContext&) = delete;
  SrtpContext& operator=(const SrtpContext&) = delete;
  // In place; len is updated. protect needs kMaxTrailer bytes of room after
  // the packet. Return false when libsrtp refuses the packet (authentication
  // failure, replay, malformed). Engine thread only; never block.
  bool protect(uint8_t* data, uint32_t& len, bool rtcp);
  bool unprotect(uint8_t* data, uint32_t& len, bool rtcp);
  // The authentication tag (at most 16 bytes) plus the SRTCP index; no MKI.
  static constexpr unsigned kMaxTrailer = 20;

 private:
  SrtpContext() = default;
  void* ctx_ = nullptr;  // srtp_t
};

// The keys of a stream, both directions, and their contexts (null for a
// direction without SRTP). A context may be shared by the pair a stream uses
// and the pair replacing it; only the engine thread ever calls into it.
struct SrtpPair {
  SrtpKey inKey, outKey;
  std::shared_ptr<SrtpContext> in, out;
  bool active() const { return in || out; }
};

// Builds a pair; shares `keep`'s context for a direction whose key did not
// change, so that a repeated offer/answer keeps rollover counters and replay
// windows. Returns null (err set) if a key is unusable. Runs on the
// JavaScript thread; does not touch the contexts of `keep`.
std::shared_ptr<SrtpPair> makeSrtpPair(const SrtpKey& in, const SrtpKey& out, const SrtpPair* keep, std::string& err);

// Initialises libsrtp once per process. Thread-safe.
bool srtpInit(std::string& err);

}  // namespace rtpe
