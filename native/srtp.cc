// SRTP/SRTCP contexts: see srtp.h.
#include "srtp.h"

#include <srtp2/srtp.h>

#include <cstring>
#include <mutex>

namespace rtpe {

bool SrtpKey::operator==(const SrtpKey& o) const {
  return suite == o.suite && keyLen == o.keyLen && params == o.params && std::memcmp(key, o.key, keyLen) == 0;
}

unsigned SrtpKey::keyLength(SrtpSuite s) {
  switch (s) {
    case SrtpSuite::AeadAes256Gcm: return 32 + 12;
    case SrtpSuite::AeadAes128Gcm: return 16 + 12;
    case SrtpSuite::Aes256CmSha1_80:
    case SrtpSuite::Aes256CmSha1_32: return 32 + 14;
    case SrtpSuite::Aes192CmSha1_80:
    case SrtpSuite::Aes192CmSha1_32: return 24 + 14;
    case SrtpSuite::Aes128CmSha1_80:
    case SrtpSuite::Aes128CmSha1_32:
    case SrtpSuite::NullSha1_80:
    case SrtpSuite::NullSha1_32: return 16 + 14;
    default: return 0;
  }
}

namespace {

// The RTP and RTCP policies of a suite. The _32 suites authenticate SRTCP with
// 80-bit tags (RFC 4568 section 6.2).
bool suitePolicies(SrtpSuite s, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp) {
  switch (s) {
    case SrtpSuite::AeadAes256Gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp);
      return true;
    case SrtpSuite::AeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp);
      return true;
    case SrtpSuite::Aes256CmSha1_80:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::Aes256CmSha1_32:
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::Aes192CmSha1_80:
      srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::Aes192CmSha1_32:
      srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::Aes128CmSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::Aes128CmSha1_32:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::NullSha1_80:
      srtp_crypto_policy_set_null_cipher_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_null_cipher_hmac_sha1_80(&rtcp);
      return true;
    case SrtpSuite::NullSha1_32:
      srtp_crypto_policy_set_null_cipher_hmac_sha1_80(&rtp);
      rtp.auth_tag_len = 4;
      srtp_crypto_policy_set_null_cipher_hmac_sha1_80(&rtcp);
      return true;
    default:
      return false;
  }
}

}  // namespace

bool srtpInit(std::string& err) {
  static std::once_flag once;
  static srtp_err_status_t status = srtp_err_status_ok;
  std::call_once(once, [] { status = srtp_init(); });
  if (status != srtp_err_status_ok) err = "libsrtp initialisation failed (" + std::to_string(status) + ")";
  return status == srtp_err_status_ok;
}

std::unique_ptr<SrtpContext> SrtpContext::create(const SrtpKey& k, bool inbound, std::string& err) {
  if (!srtpInit(err)) return nullptr;
  srtp_policy_t p;
  std::memset(&p, 0, sizeof(p));
  if (!suitePolicies(k.suite, p.rtp, p.rtcp)) {
    err = "unknown SRTP suite " + std::to_string(static_cast<int>(k.suite));
    return nullptr;
  }
  if (k.keyLen != SrtpKey::keyLength(k.suite)) {
    err = "SRTP key of " + std::to_string(k.keyLen) + " bytes, the suite needs " + std::to_string(SrtpKey::keyLength(k.suite));
    return nullptr;
  }
  // Session parameters take away what they name (RFC 4568 section 6.3).
  if (k.params & kUnencryptedSrtp) p.rtp.sec_serv = static_cast<srtp_sec_serv_t>(p.rtp.sec_serv & ~sec_serv_conf);
  if (k.params & kUnauthenticatedSrtp) p.rtp.sec_serv = static_cast<srtp_sec_serv_t>(p.rtp.sec_serv & ~sec_serv_auth);
  if (k.params & kUnencryptedSrtcp) p.rtcp.sec_serv = static_cast<srtp_sec_serv_t>(p.rtcp.sec_serv & ~sec_serv_conf);
  p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
  p.key = const_cast<unsigned char*>(k.key);
  p.window_size = 128;
  // What a peer sends twice (a retransmission) goes out twice.
  p.allow_repeat_tx = 1;
  srtp_t ctx = nullptr;
  srtp_err_status_t s = srtp_create(&ctx, &p);
  if (s != srtp_err_status_ok) {
    err = "libsrtp refused the key (" + std::to_string(s) + ")";
    return nullptr;
  }
  std::unique_ptr<SrtpContext> c(new SrtpContext());
  c->ctx_ = ctx;
  return c;
}

SrtpContext::~SrtpContext() {
  if (ctx_) srtp_dealloc(static_cast<srtp_t>(ctx_));
}

bool SrtpContext::protect(uint8_t* data, uint32_t& len, bool rtcp) {
  int n = static_cast<int>(len);
  srtp_err_status_t s = rtcp ? srtp_protect_rtcp(static_cast<srtp_t>(ctx_), data, &n)
                             : srtp_protect(static_cast<srtp_t>(ctx_), data, &n);
  if (s != srtp_err_status_ok) return false;
  len = static_cast<uint32_t>(n);
  return true;
}

bool SrtpContext::unprotect(uint8_t* data, uint32_t& len, bool rtcp) {
  int n = static_cast<int>(len);
  srtp_err_status_t s = rtcp ? srtp_unprotect_rtcp(static_cast<srtp_t>(ctx_), data, &n)
                             : srtp_unprotect(static_cast<srtp_t>(ctx_), data, &n);
  if (s != srtp_err_status_ok) return false;
  len = static_cast<uint32_t>(n);
  return true;
}

std::shared_ptr<SrtpPair> makeSrtpPair(const SrtpKey& in, const SrtpKey& out, const SrtpPair* keep, std::string& err) {
  auto p = std::make_shared<SrtpPair>();
  p->inKey = in;
  p->outKey = out;
  if (in.suite != SrtpSuite::None) {
    if (keep && keep->in && keep->inKey == in) p->in = keep->in;
    else if (!(p->in = SrtpContext::create(in, true, err))) return nullptr;
  }
  if (out.suite != SrtpSuite::None) {
    if (keep && keep->out && keep->outKey == out) p->out = keep->out;
    else if (!(p->out = SrtpContext::create(out, false, err))) return nullptr;
  }
  return p;
}

}  // namespace rtpe
