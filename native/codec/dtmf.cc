// In-band DTMF generation and detection (see dtmf.h).
#include "dtmf.h"

#include <algorithm>
#include <cstring>

extern "C" {
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
}

namespace rtpe {
namespace codec {

namespace {
const char kDigits[] = "0123456789*#ABCD";
constexpr int kSlack = 160;  // 8 kHz samples beyond the resampler's nominal input
}  // namespace

int dtmfEventOf(char digit) {
  if (digit >= 'a' && digit <= 'd') digit = static_cast<char>(digit - 'a' + 'A');
  for (int i = 0; i < 16; i++)
    if (kDigits[i] == digit) return i;
  return -1;
}

char dtmfDigitOf(int event) { return event >= 0 && event < 16 ? kDigits[event] : 0; }

DtmfGenerator::~DtmfGenerator() {
  if (tx_) dtmf_tx_free(tx_);
}

bool DtmfGenerator::init(int sampleRate, int maxSamples, std::string& err) {
  if (sampleRate <= 0 || maxSamples <= 0) {
    err = "DTMF generator: invalid sample rate or size";
    return false;
  }
  rate_ = sampleRate;
  maxSamples_ = maxSamples;
  tx_ = dtmf_tx_init(nullptr);
  if (!tx_) {
    err = "DTMF generator: out of memory";
    return false;
  }
  if (rate_ != 8000) {
    // The 8 kHz input a generate() call of maxSamples needs, plus the filter's slack.
    const int in8k = static_cast<int>(static_cast<int64_t>(maxSamples) * 8000 / rate_) + kSlack;
    if (!up_.open(8000, 1, rate_, 1, in8k, err)) return false;
    buf_.reset(new int16_t[static_cast<size_t>(in8k)]());
  }
  return true;
}

bool DtmfGenerator::start(int event, int volumeDbm0, int durationMs) {
  const char d = dtmfDigitOf(event);
  if (!d) return false;
  dtmf_tx_init(tx_);  // in place: no allocation
  dtmf_tx_set_level(tx_, -std::min(std::max(volumeDbm0, 0), 63), 0);
  // An open-ended tone lasts until stop(); spandsp needs some on time.
  dtmf_tx_set_timing(tx_, durationMs > 0 ? durationMs : 60000, 0);
  dtmf_tx_put(tx_, &d, 1);
  active_ = true;
  return true;
}

void DtmfGenerator::stop() { active_ = false; }

void DtmfGenerator::generate(int16_t* out, int n) {
  if (!active_) {
    std::memset(out, 0, static_cast<size_t>(n) * sizeof(int16_t));
    return;
  }
  if (rate_ == 8000) {
    const int m = dtmf_tx(tx_, out, n);
    if (m < n) {
      std::memset(out + m, 0, static_cast<size_t>(n - m) * sizeof(int16_t));
      active_ = false;
    }
    return;
  }
  // At another rate: 8 kHz tone through the resampler, whose delay is made
  // up by asking for a little more input the first time.
  int done = 0;
  while (done < n) {
    const int want = std::min(n - done, maxSamples_);
    const int in8k = std::max(1, static_cast<int>(static_cast<int64_t>(want) * 8000 / rate_));
    int m = dtmf_tx(tx_, buf_.get(), in8k);
    if (m < in8k) std::memset(buf_.get() + m, 0, static_cast<size_t>(in8k - m) * sizeof(int16_t));
    const int got = up_.convert(buf_.get(), in8k, out + done, n - done);
    if (got <= 0) {
      // Still filling the filter: the rest of this call is silence.
      std::memset(out + done, 0, static_cast<size_t>(n - done) * sizeof(int16_t));
      return;
    }
    done += got;
  }
}

DtmfDetector::~DtmfDetector() {
  if (rx_) dtmf_rx_free(rx_);
}

bool DtmfDetector::init(int sampleRate, int channels, int maxSamples, std::string& err) {
  if (sampleRate <= 0 || channels < 1 || channels > 2 || maxSamples <= 0) {
    err = "DTMF detector: invalid format";
    return false;
  }
  rate_ = sampleRate;
  channels_ = channels;
  maxSamples_ = maxSamples;
  rx_ = dtmf_rx_init(nullptr, nullptr, nullptr);
  if (!rx_) {
    err = "DTMF detector: out of memory";
    return false;
  }
  dtmf_rx_set_realtime_callback(rx_, &DtmfDetector::onTone, this);
  if (rate_ != 8000 || channels_ != 1) {
    if (!down_.open(rate_, channels_, 8000, 1, maxSamples, err)) return false;
    buf_.reset(new int16_t[static_cast<size_t>(down_.maxOut())]());
  }
  return true;
}

void DtmfDetector::onTone(void* self, int code, int level, int /*delay*/) {
  DtmfDetector& d = *static_cast<DtmfDetector*>(self);
  if (!code) {
    d.current_ = -1;
    return;
  }
  d.current_ = dtmfEventOf(static_cast<char>(code));
  // spandsp reports the level in dBm0; the event carries its magnitude.
  d.volume_ = std::min(std::max(-level, 0), 63);
}

int DtmfDetector::detect(const int16_t* pcm, int n) {
  n = std::min(n, maxSamples_);
  if (!buf_) {
    dtmf_rx(rx_, pcm, n);
  } else {
    const int m = down_.convert(pcm, n, buf_.get(), down_.maxOut());
    if (m > 0) dtmf_rx(rx_, buf_.get(), m);
  }
  return current_;
}

}  // namespace codec
}  // namespace rtpe
