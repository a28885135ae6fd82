// DTMF event reports: see dtmf_events.h.
#include "dtmf_events.h"

namespace rtpe {

bool DtmfTracker::onEvent(const uint8_t* p, uint32_t len, uint32_t ts, uint32_t clockRate, int64_t nowMs,
                          DigitEnd& out) {
  if (len < 4 || clockRate == 0) return false;
  const uint8_t event = p[0];
  const bool end = (p[1] & 0x80) != 0;
  const uint32_t duration = (static_cast<uint32_t>(p[2]) << 8) | p[3];
  if (ended_ && ts == endedTs_ && event == endedEvent_) return false;  // a repeated end packet
  bool reported = false;
  if (active_ && (ts != ts_ || event != event_)) {
    // A new key press while the previous one never ended: that one is over.
    finish(out);
    reported = true;
  }
  if (!active_) {
    active_ = true;
    event_ = event;
    ts_ = ts;
    duration_ = 0;
    clock_ = clockRate;
  }
  volume_ = p[1] & 0x3f;
  if (duration > duration_) duration_ = duration;
  lastMs_ = nowMs;
  if (!end) return reported;
  if (reported) return true;  // (its own end comes with the next packet: rare)
  finish(out);
  ended_ = true;
  endedTs_ = ts;
  endedEvent_ = event;
  return true;
}

void DtmfTracker::finish(DigitEnd& out) {
  active_ = false;
  out.event = event_;
  out.volume = volume_;
  out.durationMs = static_cast<uint32_t>(static_cast<uint64_t>(duration_) * 1000 / clock_);
  out.inband = false;
}

}  // namespace rtpe
