// Discontinuous transmission (DTX) settings of a transcoding direction and the
// DTX buffer.
//
// The DTX buffer (on when --dtx-delay is set) holds the RTP packets of the
// input codec and releases them on a timer that runs at the input's packet
// pace, --dtx-delay behind the first packet. Each timer step decodes the head
// packet when its timestamp is the next one due; otherwise the step is a gap
// and the Transcoder fills one packet's worth of audio (the codec's own
// comfort noise after its SID, RFC 3389 noise, or silence). So the receiving
// peer sees a steady packet pace whatever the input's jitter and gaps.
//
// Drift. The timer and the input's clock drift apart; each released packet
// is checked:
//   - with --dtx-shift > 0: a packet that spent less than --dtx-delay in the
//     buffer (input late) moves the timer later by the shift; a packet whose
//     timestamp was already covered by gap filling moves it later and is
//     discarded; a buffer holding at least --dtx-buffer packets and at least
//     --dtx-lag ms of audio (overflow) moves the timer earlier by the shift.
//   - with --dtx-shift = 0 the timer keeps its pace: a covered timestamp
//     makes room for one more filled packet, and an overflow discards the
//     packet.
//
// Threads: init() runs on the JavaScript thread and allocates the slots;
// everything else runs on the engine thread that owns the Transcoder, never
// blocks and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace rtpe {
namespace codec {

struct DtxOptions {
  bool buffered = false;      // the DTX buffer (--dtx-delay > 0)
  int bufferPackets = 10;     // --dtx-buffer
  int lagMs = 100;            // --dtx-lag
  int shiftMs = 5;            // --dtx-shift
  std::vector<uint8_t> cnParams;            // --dtx-cn-params: RFC 3389 payload that fills gaps; empty = silence
  std::vector<uint8_t> cnPayload{32};       // --cn-payload: RFC 3389 payload sent for silence
  bool amrCn = false;         // --amr-dtx=CN: AMR SID frames and gaps filled with the
                              // cnParams noise (no effect without cnParams)
};

bool operator==(const DtxOptions& a, const DtxOptions& b);

struct DtxStats {
  uint64_t shifts = 0;     // timer moves (either direction)
  uint64_t discarded = 0;  // packets dropped by the drift handling or a full buffer
  uint64_t gaps = 0;       // timer steps without a packet (filled)
};

class DtxBuffer {
 public:
  // Packets are copied into one ring of bytes; at most kMaxPackets wait.
  static constexpr size_t kRingBytes = 64 * 1024;
  static constexpr size_t kMaxPackets = 512;

  struct Packet {
    int64_t arrivalMs;
    uint32_t ts;
    uint32_t len;
    const uint8_t* data;
  };

  // Sizes the buffer for the options. Runs on the JavaScript thread; allocates.
  void init(const DtxOptions& o, int delayMs, uint32_t clockRate, uint32_t stepTs);

  // Copies a packet in and starts the timer (at arrival + delay) if it is not
  // running. Returns false when it is discarded (no room left).
  bool push(const uint8_t* pkt, size_t len, uint32_t ts, int64_t nowMs);

  bool running() const { return running_; }
  bool empty() const { return count_ == 0; }
  int64_t nextMs() const { return nextMs_; }
  const DtxStats& stats() const { return stats_; }

  // One timer step at nowMs (<= nextMs() is due): returns true with the packet
  // to decode now (valid until the next call), or false for a gap, after
  // which the head timestamp has moved on by one step. Drift handling applies
  // here: discarded packets are skipped and counted, and `skipped` says
  // whether any were (their time is dropped from the output, not filled).
  bool take(int64_t nowMs, Packet& p, bool& skipped);
  // The timestamp increment of one step (the last decoded packet's duration).
  void setStep(uint32_t stepTs);
  uint32_t stepTs() const { return stepTs_; }
  // Schedules the next step one packet duration later.
  void advance();
  // Stops the timer (the next packet restarts it) and forgets the head.
  void stop();

 private:
  // Where len bytes fit in the ring after the newest packet, or null.
  uint8_t* room(size_t len);
  void pop();
  bool drift(const Packet& p, int64_t nowMs, int64_t tsDiff);

  DtxOptions opts_;
  int delayMs_ = 0;
  uint32_t clock_ = 8000;
  uint32_t stepTs_ = 160;
  std::unique_ptr<uint8_t[]> data_;
  std::unique_ptr<Packet[]> meta_;
  size_t head_ = 0, count_ = 0;
  bool running_ = false;
  int64_t nextMs_ = 0;
  bool haveHead_ = false;
  uint32_t headTs_ = 0;
  DtxStats stats_;
};

}  // namespace codec
}  // namespace rtpe
