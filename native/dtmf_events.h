// DTMF event reports: which key a party pressed, reported once per key press,
// when it ends (src/dtmf/reporter.ts formats and sends the reports).
//
// Two sources. RFC 4733 telephone-event packets received on a stream, on any
// call (relayed or transcoded), are followed by a DtmfTracker: a key press is
// one event timestamp; it ends with its first end packet (the repeated end
// packets report nothing more), or, when its end packets were lost, with the
// next event at another timestamp or once no event packet came for
// kLostEndMs while other RTP kept arriving. In-band tones heard by a
// Transcoder's detector end when the detector stops hearing them (see
// Transcoder::takeDigit).
//
// Threads. Everything runs on the engine thread that owns the stream; nothing
// allocates or blocks.
#pragma once

#include <cstdint>

namespace rtpe {

// A key press that ended.
struct DigitEnd {
  uint8_t event = 0;        // RFC 4733 event code (0-15 the DTMF keys)
  uint8_t volume = 0;       // RFC 4733 volume (0-63, -dBm0)
  uint32_t durationMs = 0;  // how long the key was pressed
  bool inband = false;      // heard as tones rather than received as events
};

class DtmfTracker {
 public:
  // An event packet went missing for this long (while other packets arrive):
  // its key press is over.
  static constexpr int64_t kLostEndMs = 250;

  // Takes the RFC 4733 payload of a telephone-event packet (len bytes, at
  // least 4) at RTP timestamp ts, in a clock of clockRate Hz. Returns true
  // with `out` filled when a key press ended.
  bool onEvent(const uint8_t* payload, uint32_t len, uint32_t ts, uint32_t clockRate, int64_t nowMs, DigitEnd& out);
  // Any other RTP packet of the stream: returns true with `out` filled when a
  // key press whose end packets were lost is over.
  bool onOther(int64_t nowMs, DigitEnd& out) {
    if (!active_ || nowMs - lastMs_ < kLostEndMs) return false;
    finish(out);
    return true;
  }

 private:
  void finish(DigitEnd& out);

  bool active_ = false;  // a key press in progress (no end packet yet)
  uint8_t event_ = 0;
  uint8_t volume_ = 0;
  uint32_t ts_ = 0;
  uint32_t duration_ = 0;  // in clock units, the largest seen
  uint32_t clock_ = 8000;
  int64_t lastMs_ = 0;
  bool ended_ = false;     // the last key press that ended, whose repeated
  uint32_t endedTs_ = 0;   // end packets report nothing more
  uint8_t endedEvent_ = 0;
};

}  // namespace rtpe
