// Playback continuity: see player.h.
#include "player.h"

#include <random>

#include "../bytes.h"

namespace rtpe {
namespace player {

namespace {
uint32_t elapsedTs(int64_t fromMs, int64_t toMs, uint32_t clock) {
  int64_t d = toMs - fromMs;
  if (d < 0) d = 0;
  return static_cast<uint32_t>(static_cast<uint64_t>(d) * clock / 1000);
}
}  // namespace

void OutputTimeline::forwarded(uint8_t* pkt, int64_t nowMs) {
  uint16_t seq = be16(pkt + 2);
  uint32_t ts = be32(pkt + 4);
  uint32_t ssrc = be32(pkt + 8);
  if (rebase_) {
    rebase_ = false;
    if (have_) {
      // This packet follows the last played one, as much later as time went by.
      shifted_ = true;
      seqDelta_ = static_cast<uint16_t>(seq_ + 1 - seq);
      tsDelta_ = ts_ + elapsedTs(ms_, nowMs, clock_) - ts;
      ssrcOut_ = ssrc_;
    }
  }
  if (shifted_) {
    seq = static_cast<uint16_t>(seq + seqDelta_);
    ts += tsDelta_;
    ssrc = ssrcOut_;
    putBe16(pkt + 2, seq);
    putBe32(pkt + 4, ts);
    putBe32(pkt + 8, ssrc);
  }
  remember(ssrc, seq, ts, nowMs);
}

void OutputTimeline::continueAt(int64_t nowMs, uint32_t clockRate, uint32_t& ssrc, uint16_t& seq, uint32_t& ts) {
  if (have_) {
    ssrc = ssrc_;
    seq = static_cast<uint16_t>(seq_ + 1);
    // At least one packet's worth after the last one.
    uint32_t e = elapsedTs(ms_, nowMs, clockRate);
    ts = ts_ + (e ? e : clockRate / 50);
    return;
  }
  // Nothing sent yet: a fresh stream. Seeded once per thread.
  thread_local std::mt19937 rng(std::random_device{}());
  ssrc = rng();
  seq = static_cast<uint16_t>(rng());
  ts = rng();
}

}  // namespace player
}  // namespace rtpe
