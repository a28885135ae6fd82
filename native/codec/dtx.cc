// The DTX buffer (see dtx.h).
#include "dtx.h"

#include <algorithm>
#include <cstring>

namespace rtpe {
namespace codec {

bool operator==(const DtxOptions& a, const DtxOptions& b) {
  return a.buffered == b.buffered && a.bufferPackets == b.bufferPackets && a.lagMs == b.lagMs &&
         a.shiftMs == b.shiftMs && a.cnParams == b.cnParams && a.cnPayload == b.cnPayload && a.amrCn == b.amrCn;
}

void DtxBuffer::init(const DtxOptions& o, int delayMs, uint32_t clockRate, uint32_t stepTs) {
  opts_ = o;
  delayMs_ = delayMs;
  clock_ = clockRate > 0 ? clockRate : 8000;
  stepTs_ = stepTs > 0 ? stepTs : clock_ / 50;
  data_.reset(new uint8_t[kRingBytes]);
  meta_.reset(new Packet[kMaxPackets]());
}

uint8_t* DtxBuffer::room(size_t len) {
  uint8_t* const base = data_.get();
  if (count_ == 0) return len <= kRingBytes ? base : nullptr;
  if (count_ == kMaxPackets) return nullptr;
  const Packet& oldest = meta_[head_];
  const Packet& newest = meta_[(head_ + count_ - 1) % kMaxPackets];
  const size_t begin = static_cast<size_t>(oldest.data - base);
  const size_t end = static_cast<size_t>(newest.data - base) + newest.len;  // the next free byte
  if (end > begin) {
    // Used: [begin, end). Free: the tail, then the start before begin.
    if (kRingBytes - end >= len) return base + end;
    return len < begin ? base : nullptr;
  }
  // Wrapped. Used: [begin, kRingBytes) and [0, end).
  return begin - end > len ? base + end : nullptr;
}

bool DtxBuffer::push(const uint8_t* pkt, size_t len, uint32_t ts, int64_t nowMs) {
  if (!running_) {
    running_ = true;
    nextMs_ = nowMs + delayMs_;
  }
  uint8_t* at = room(len);
  if (!at) {
    stats_.discarded++;
    return false;
  }
  std::memcpy(at, pkt, len);
  meta_[(head_ + count_) % kMaxPackets] = Packet{nowMs, ts, static_cast<uint32_t>(len), at};
  count_++;
  return true;
}

void DtxBuffer::pop() {
  head_ = (head_ + 1) % kMaxPackets;
  count_--;
}

void DtxBuffer::setStep(uint32_t stepTs) {
  if (stepTs > 0 && stepTs <= clock_) stepTs_ = stepTs;
}

void DtxBuffer::advance() { nextMs_ += std::max<int64_t>(1, static_cast<int64_t>(stepTs_) * 1000 / clock_); }

void DtxBuffer::stop() {
  running_ = false;
  haveHead_ = false;
}

bool DtxBuffer::take(int64_t nowMs, Packet& out, bool& skipped) {
  skipped = false;
  while (count_ > 0) {
    const Packet& p = meta_[head_];
    const int64_t diff = static_cast<int32_t>(p.ts - headTs_);
    if (haveHead_) {
      // A timestamp far away (back or ahead) is a new timeline: taken now.
      // Otherwise a packet more than one step ahead waits while the gap
      // before it is filled.
      const int64_t diffMs = diff * 1000 / clock_;
      const bool reset = diff < 0 || diffMs > std::max<int64_t>(20 * static_cast<int64_t>(delayMs_), 200);
      if (!reset && diff >= 2 * static_cast<int64_t>(stepTs_)) break;
    }
    const Packet taken = p;
    const int64_t tsDiff = haveHead_ ? diff : static_cast<int64_t>(stepTs_);
    pop();
    headTs_ = taken.ts;
    haveHead_ = true;
    if (drift(taken, nowMs, tsDiff)) {
      stats_.discarded++;
      skipped = true;
      continue;
    }
    out = taken;
    return true;
  }
  if (haveHead_) headTs_ += stepTs_;
  stats_.gaps++;
  return false;
}

bool DtxBuffer::drift(const Packet& p, int64_t nowMs, int64_t tsDiff) {
  bool overflow = false;
  if (count_ > 0 && count_ >= static_cast<size_t>(std::max(opts_.bufferPackets, 0))) {
    const uint32_t lastTs = meta_[(head_ + count_ - 1) % kMaxPackets].ts;
    const int64_t lagMs = static_cast<int64_t>(static_cast<int32_t>(lastTs - p.ts)) * 1000 / clock_;
    overflow = lagMs >= opts_.lagMs;
  }
  const bool covered = tsDiff < static_cast<int64_t>(stepTs_);
  if (opts_.shiftMs == 0) {
    if (covered) {
      headTs_ -= stepTs_;  // one more step of filling before the next packet
      return false;
    }
    return overflow;
  }
  if (nowMs - p.arrivalMs < delayMs_) {
    nextMs_ += opts_.shiftMs;  // the input is late for the timer
    stats_.shifts++;
    return false;
  }
  if (covered) {
    nextMs_ += opts_.shiftMs;
    stats_.shifts++;
    return true;
  }
  if (overflow) {
    nextMs_ -= opts_.shiftMs;
    stats_.shifts++;
  }
  return false;
}

}  // namespace codec
}  // namespace rtpe
