// RTP payload formats: splitting a received payload into codec frames
// (Depacketizer) and joining encoded frames into a payload (Packetizer), per
// codec family:
//   samples  G.711, G.722, L16: the payload is one run of samples
//   frames   GSM: 33-byte frames back to back
//   whole    speex, QCELP: one frame per payload
//   g723     G.723.1: 24/20/4/1-byte frames by the two low bits of their first byte
//   g729     G.729: 10-byte frames, then at most one 2-byte SID frame
//   ilbc     iLBC (RFC 3952): 38-byte (20 ms) or 50-byte (30 ms) frames
//   amr      AMR/AMR-WB (RFC 4867): CMR, table of contents, frames, octet-aligned
//            or bandwidth-efficient. Frames are exchanged with the codec in the
//            storage format (one ToC byte, then the speech bits, octet-padded).
//   opus     one Opus packet; several encoded frames are joined by the
//            repacketizer (RFC 6716 code 3 packets)
// Both never allocate after init() and never block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "codec.h"

struct OpusRepacketizer;

namespace rtpe {
namespace codec {

struct FrameRef {
  const uint8_t* data;
  uint16_t len;
  uint8_t mode;  // iLBC: 20 or 30; else 0
  bool sid;      // a SID (comfort noise) frame of the codec itself
};

// AMR frame types.
int amrSpeechBits(bool wideband, int ft);
// The AMR or AMR-WB bitrate to encode at: the highest mode allowed by the
// fmtp mode-set at or below the requested bitrate.
int amrBitrate(const CodecSpec& spec, int requested);

class Depacketizer {
 public:
  static constexpr int kMaxFrames = 48;
  void init(const CodecSpec& spec);
  // Splits a payload. Returns the number of frames, or -1 if the payload is
  // malformed. Frames point into the payload or into this object (AMR),
  // valid until the next split().
  int split(const uint8_t* payload, size_t len, FrameRef* frames, int max);

 private:
  int splitAmr(const uint8_t* p, size_t len, FrameRef* frames, int max);
  Packetizer kind_ = Packetizer::Samples;
  bool wideband_ = false;
  bool octetAligned_ = false;
  int ilbcMode_ = 30;
  uint8_t scratch_[kMaxFrames * 64];
};

class PayloadBuilder {
 public:
  PayloadBuilder();
  ~PayloadBuilder();
  PayloadBuilder(const PayloadBuilder&) = delete;
  PayloadBuilder& operator=(const PayloadBuilder&) = delete;

  void init(const CodecSpec& spec);
  // Queues one encoded frame (copied). Empty frames (DTX) are skipped.
  bool add(const uint8_t* data, size_t len);
  int frames() const { return count_; }
  // Writes the payload of the queued frames and clears the queue. Returns its
  // length; 0 when there is nothing to send (every frame was DTX).
  int build(uint8_t* out, size_t cap);
  void clear() {
    count_ = 0;
    used_ = 0;
  }

 private:
  static constexpr int kMaxFrames = 48;
  static constexpr size_t kStage = 16384;
  Packetizer kind_ = Packetizer::Samples;
  bool wideband_ = false;
  bool octetAligned_ = false;
  int count_ = 0;
  size_t used_ = 0;
  uint16_t off_[kMaxFrames];
  uint16_t len_[kMaxFrames];
  std::unique_ptr<uint8_t[]> stage_;
  OpusRepacketizer* rp_ = nullptr;
};

}  // namespace codec
}  // namespace rtpe
