// Per-SSRC figures and MOS: see ssrc.h.
#include "ssrc.h"

namespace rtpe {

void SsrcEntry::reset(uint32_t ssrc_, int64_t nowMs) {
  ssrc = ssrc_;
  used = true;
  lastUsedMs = nowMs;
  payloadTypes.clear();
  packets.store(0, std::memory_order_relaxed);
  lastSeq.store(0, std::memory_order_relaxed);
  srCount = srNext = rrtCount = rrtNext = 0;
  lastRtt = 0;
  lastRttXr = 0;
  lastRttXrStream = 0;
  haveReport = false;
  reportAbout = 0;
  fractionLost = 0;
  packetsLost = highestSeq = jitterRaw = 0;
  blocks.clear();
  blockCount = noMosCount = 0;
  haveLowest = haveHighest = false;
  lowest = highest = StatsBlock{};
  sums = StatsSums{};
  lastReportedUs = 0;
}

void SsrcEntry::push(TimeItem* q, int& count, int& next, uint32_t ntpMiddle, int64_t nowUs) {
  q[next] = TimeItem{ntpMiddle, nowUs};
  next = (next + 1) % kTimeItems;
  if (count < kTimeItems) count++;
}

int64_t SsrcEntry::find(const TimeItem* q, int count, int next, uint32_t ntpMiddle) {
  for (int i = 1; i <= count; i++) {
    const TimeItem& t = q[(next - i + kTimeItems) % kTimeItems];
    if (t.ntpMiddle == ntpMiddle) return t.receivedUs;
  }
  return 0;
}

void SsrcEntry::addBlock(const StatsBlock& b) {
  if (blocks.size() >= kMaxBlocks) {
    // Keep the first and every other one after it.
    size_t w = 1;
    for (size_t r = 2; r < blocks.size(); r += 2) blocks[w++] = blocks[r];
    blocks.resize(w);
  }
  blocks.push_back(b);
  blockCount++;
  // As the reference: the lowest is the lowest non-zero MOS; the highest may
  // be a sample without a MOS if it came first.
  if (b.mos && (!haveLowest || b.mos < lowest.mos)) {
    lowest = b;
    haveLowest = true;
  }
  if (!haveHighest || b.mos > highest.mos) {
    highest = b;
    haveHighest = true;
  }
  if (!b.mos) {
    noMosCount++;
  } else {
    sums.jitter += b.jitter;
    sums.mos += b.mos;
    sums.rtt += b.rtt;
    sums.rttLeg += b.rttLeg;
    sums.packetLoss += b.packetLoss;
  }
}

SsrcEntry* SsrcTable::find(uint32_t ssrc) const {
  for (const auto& e : entries_) {
    if (e->used && e->ssrc == ssrc) return e.get();
  }
  return nullptr;
}

SsrcEntry* SsrcTable::getLocked(uint32_t ssrc, int64_t nowMs) {
  SsrcEntry* e = find(ssrc);
  if (e) {
    e->lastUsedMs = nowMs;
    return e;
  }
  if (entries_.size() < kMaxEntries) {
    entries_.emplace_back(new SsrcEntry());
    e = entries_.back().get();
  } else {
    e = entries_[0].get();
    for (const auto& x : entries_) {
      if (x->lastUsedMs < e->lastUsedMs) e = x.get();
    }
  }
  e->reset(ssrc, nowMs);
  return e;
}

void SsrcTable::snapshot(std::vector<SsrcSnapshot>& out) {
  std::lock_guard<std::mutex> lock(mu);
  out.clear();
  out.reserve(entries_.size());
  for (const auto& p : entries_) {
    const SsrcEntry& e = *p;
    if (!e.used) continue;
    SsrcSnapshot& s = out.emplace_back();
    s.ssrc = e.ssrc;
    s.packets = e.packets.load(std::memory_order_relaxed);
    s.lastSeq = e.lastSeq.load(std::memory_order_relaxed);
    s.payloadType = e.payloadTypes.most();
    s.haveReport = e.haveReport;
    s.reportAbout = e.reportAbout;
    s.fractionLost = e.fractionLost;
    s.packetsLost = e.packetsLost;
    s.highestSeq = e.highestSeq;
    s.jitterRaw = e.jitterRaw;
    s.lastRtt = e.lastRtt;
    s.blockCount = e.blockCount;
    s.noMosCount = e.noMosCount;
    s.haveLowest = e.haveLowest;
    s.haveHighest = e.haveHighest;
    s.lowest = e.lowest;
    s.highest = e.highest;
    s.sums = e.sums;
    s.blocks = e.blocks;
  }
}

void computeMos(StatsBlock& b, MosType type) {
  b.mos = 0;
  // MOS-CQ cannot be computed without a round-trip time. The reference then
  // uses the round-trip time in the formula for MOS-LQ too; so do we.
  if (type == MosType::CQ && !b.rtt) return;
  int effRtt = static_cast<int>(b.rtt / 1000 + static_cast<uint64_t>(b.jitter) * 2 + 10);
  double r;
  if (effRtt < 160) r = 93.2 - effRtt / 40.0;
  else r = 93.2 - (effRtt - 120) / 10.0;
  r = r - (b.packetLoss * 2.5);
  int64_t mos;
  if (r < 0) {
    mos = 10;
  } else {
    double m = 1.0 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
    mos = static_cast<int64_t>(m * 10.0);
  }
  if (mos < 10) mos = 0;
  b.mos = static_cast<uint32_t>(mos);
}

}  // namespace rtpe
