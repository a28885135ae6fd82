// RTCP parsing on the packet path (RFC 3550 SR/RR, RFC 3611 XR), feeding the
// call's SSRC table (ssrc.h), and the per-stream RTP figures `query` shows.
//
// Two hooks, each called once per packet by the relay after the source check
// accepted it:
// - onRtp() for an RTP packet: notes the SSRC and payload type;
// - onRtcp() for an RTCP packet (compound, on RTP+1 or muxed): walks every
//   sub-packet, records sender reports and XR receiver reference times, and
//   turns each report block into a MOS sample as the reference does.
// Both run on the stream's engine thread and never block for long: onRtcp
// takes the call's SSRC table lock, which the JavaScript thread only holds
// to copy the table. Nothing is allocated per packet (an SSRC's entry is
// created once, its MOS samples are appended at most once a second).
#pragma once

#include <atomic>
#include <cstdint>

#include "ssrc.h"

namespace rtpe {

class Stream;

// What a stream has seen of RTP and RTCP: the current SSRC and the payload
// types. Single writer (the engine thread), any reader.
struct MediaTrack {
  std::atomic<uint32_t> ssrc{0};
  std::atomic<bool> haveSsrc{false};
  PtTracker payloadTypes;
  // Engine thread only: the table entry of the last RTP SSRC.
  SsrcEntry* cached = nullptr;

  void noteSsrc(uint32_t s) {
    if (!haveSsrc.load(std::memory_order_relaxed) || ssrc.load(std::memory_order_relaxed) != s) {
      ssrc.store(s, std::memory_order_relaxed);
      haveSsrc.store(true, std::memory_order_relaxed);
    }
  }
};

namespace rtcp {

// An RTP packet of at least 12 bytes, accepted on stream s.
void onRtp(Stream& s, const uint8_t* data, uint32_t len, int64_t nowMs);

// An RTCP packet accepted on stream s. Returns false if it is malformed
// (a sub-packet with a wrong version, length or size for its type); what could
// be read before the fault is kept, as the reference does.
bool onRtcp(Stream& s, const uint8_t* data, uint32_t len);

}  // namespace rtcp
}  // namespace rtpe
