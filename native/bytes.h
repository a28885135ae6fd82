// Big-endian field readers and writers for packets handled in place (RTP,
// RTCP, STUN).
#pragma once

#include <cstdint>

namespace rtpe {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

inline void putBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

inline void putBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Where the payload of an RTP packet (at least 12 bytes) lies: [off, end),
// after the CSRC list and any header extension, before padding. False when
// the header runs past the packet, the padding count is invalid or nothing is
// left for a payload.
inline bool rtpPayload(const uint8_t* d, uint32_t len, uint32_t& off, uint32_t& end) {
  off = 12 + 4u * (d[0] & 0x0f);
  if (d[0] & 0x10) {
    if (off + 4 > len) return false;
    off += 4 + 4u * be16(d + off + 2);
  }
  if (off >= len) return false;
  end = len;
  if (d[0] & 0x20) {
    const uint8_t pad = d[len - 1];
    if (pad == 0 || pad >= end - off) return false;
    end -= pad;
  }
  return true;
}

}  // namespace rtpe
