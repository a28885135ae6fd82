// Per-SSRC figures of a call, and the MOS computed from RTCP reports the way
// the reference daemon does it (daemon/ssrc.c): one table per call, shared by
// the streams of that call (they all run on the same engine thread).
//
// What is kept per SSRC:
// - from RTP with that SSRC: packets, last sequence number, the payload types
//   seen (to find the clock rate of the jitter a report gives);
// - from RTCP the SSRC sent: the last sender reports (NTP time and when they
//   arrived) and XR receiver reference times, used to find round-trip times;
//   the last report block it sent (fraction lost, cumulative loss, jitter,
//   highest sequence number); the MOS samples ("stats blocks") computed from
//   its receiver reports, with lowest, highest and running sums;
// - the round-trip time of the leg towards the peer that reports about this
//   SSRC (the reference's last_rtt), and the XR VoIP-metrics round-trip delay.
//
// Threads. The owning engine thread is the only writer. It takes the table
// lock to create an entry and to process an RTCP packet (a few per second per
// call); the JavaScript thread takes it to read. The per-RTP-packet figures
// are relaxed atomics written without the lock, through an entry pointer the
// stream caches (entries never move once created).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace rtpe {

enum class MosType : uint8_t { CQ, LQ };

// The payload types of a stream of packets and how many of each; keeps the
// four most frequent. Single writer, any reader.
class PtTracker {
 public:
  // Runs on the engine thread; no allocation.
  void add(uint8_t pt) {
    int empty = -1, least = 0;
    uint32_t leastCount = UINT32_MAX;
    for (int i = 0; i < kSlots; i++) {
      uint32_t v = slots_[i].load(std::memory_order_relaxed);
      if (v == 0) {
        if (empty < 0) empty = i;
        continue;
      }
      if ((v & 0xff) == pt) {
        if ((v >> 8) < 0xffffff) slots_[i].store(v + 0x100, std::memory_order_relaxed);
        return;
      }
      if ((v >> 8) < leastCount) {
        leastCount = v >> 8;
        least = i;
      }
    }
    slots_[empty >= 0 ? empty : least].store(0x100u | pt, std::memory_order_relaxed);
  }
  // The most frequent payload type, -1 if none was seen.
  int most() const {
    int pt = -1;
    uint32_t best = 0;
    for (int i = 0; i < kSlots; i++) {
      uint32_t v = slots_[i].load(std::memory_order_relaxed);
      if ((v >> 8) > best) {
        best = v >> 8;
        pt = static_cast<int>(v & 0xff);
      }
    }
    return pt;
  }
  void clear() {
    for (auto& s : slots_) s.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr int kSlots = 4;
  std::atomic<uint32_t> slots_[kSlots] = {};
};

// One MOS sample: the reference's ssrc_stats_block.
struct StatsBlock {
  int64_t reportedUs = 0;  // unix microseconds of the receiver report
  uint64_t rtt = 0;        // end-to-end round trip, microseconds (0 = unknown)
  uint64_t rttLeg = 0;     // round trip of the reporter's leg, microseconds
  uint32_t jitter = 0;     // milliseconds
  uint32_t packetLoss = 0; // percent, from the fraction lost
  uint32_t mos = 0;        // MOS x 10 (10..50), 0 = not computable
};

// Running sums of the samples that have a MOS.
struct StatsSums {
  uint64_t mos = 0, rtt = 0, rttLeg = 0, jitter = 0, packetLoss = 0;
};

// A payload type's clock rate, as signalled for the media.
struct PtClock {
  uint8_t pt;
  uint32_t clockRate;
  bool event = false;  // telephone-event (RFC 4733): its packets are DTMF events
};

struct SsrcEntry {
  // Identity; written under the table lock by the engine thread.
  uint32_t ssrc = 0;
  bool used = false;
  int64_t lastUsedMs = 0;

  // RTP with this SSRC (engine thread writes, anyone reads).
  PtTracker payloadTypes;
  std::atomic<uint64_t> packets{0};
  std::atomic<uint32_t> lastSeq{0};

  // Everything below is guarded by the table lock.
  struct TimeItem {
    uint32_t ntpMiddle;  // middle 32 bits of the NTP timestamp
    int64_t receivedUs;
  };
  static constexpr int kTimeItems = 10;
  TimeItem senderReports[kTimeItems];
  int srCount = 0, srNext = 0;
  TimeItem rrTimes[kTimeItems];  // XR receiver reference times
  int rrtCount = 0, rrtNext = 0;

  int64_t lastRtt = 0;      // microseconds; see the file comment
  uint32_t lastRttXr = 0;   // milliseconds, from XR VoIP metrics about this SSRC
  uint32_t lastRttXrStream = 0;  // the stream it arrived on: the reference keeps it per side

  // The last report block this SSRC sent.
  bool haveReport = false;
  uint32_t reportAbout = 0;
  uint8_t fractionLost = 0;
  uint32_t packetsLost = 0;  // 24-bit cumulative count as sent
  uint32_t highestSeq = 0;
  uint32_t jitterRaw = 0;    // in RTP timestamp units

  // MOS samples from this SSRC's receiver reports (at most one a second).
  // The reference keeps them all; `blocks` keeps at most kMaxBlocks (over an
  // hour of samples), past that every other one is dropped, so that the
  // progression keeps spanning the whole call. Grown as samples come, so an
  // SSRC without reports costs nothing.
  static constexpr size_t kMaxBlocks = 4096;
  std::vector<StatsBlock> blocks;
  uint64_t blockCount = 0;  // all samples taken, kept or thinned out
  uint64_t noMosCount = 0;
  bool haveLowest = false, haveHighest = false;
  StatsBlock lowest, highest;
  StatsSums sums;
  int64_t lastReportedUs = 0;

  void reset(uint32_t ssrc, int64_t nowMs);
  void pushSenderReport(uint32_t ntpMiddle, int64_t nowUs) { push(senderReports, srCount, srNext, ntpMiddle, nowUs); }
  void pushRrTime(uint32_t ntpMiddle, int64_t nowUs) { push(rrTimes, rrtCount, rrtNext, ntpMiddle, nowUs); }
  // The arrival time of the report whose NTP middle bits are given, newest
  // first; 0 if none of the last ones matches.
  int64_t findSenderReport(uint32_t ntpMiddle) const { return find(senderReports, srCount, srNext, ntpMiddle); }
  int64_t findRrTime(uint32_t ntpMiddle) const { return find(rrTimes, rrtCount, rrtNext, ntpMiddle); }
  void addBlock(const StatsBlock& b);

 private:
  static void push(TimeItem* q, int& count, int& next, uint32_t ntpMiddle, int64_t nowUs);
  static int64_t find(const TimeItem* q, int count, int next, uint32_t ntpMiddle);
};

// A copy of one entry, for JavaScript.
struct SsrcSnapshot {
  uint32_t ssrc = 0;
  uint64_t packets = 0;
  uint32_t lastSeq = 0;
  int payloadType = -1;
  bool haveReport = false;
  uint32_t reportAbout = 0;
  uint8_t fractionLost = 0;
  uint32_t packetsLost = 0;
  uint32_t highestSeq = 0;
  uint32_t jitterRaw = 0;
  int64_t lastRtt = 0;
  uint64_t blockCount = 0;
  uint64_t noMosCount = 0;
  bool haveLowest = false, haveHighest = false;
  StatsBlock lowest, highest;
  StatsSums sums;
  std::vector<StatsBlock> blocks;
};

class SsrcTable {
 public:
  // The reference keeps at most 20 SSRCs per table and evicts the least
  // recently used one.
  static constexpr size_t kMaxEntries = 20;

  explicit SsrcTable(MosType mos) : mos(mos) {}
  const MosType mos;

  // The entry of ssrc, created (or taken over from the least recently used
  // one) if needed. Engine thread only; caller must hold mu.
  SsrcEntry* getLocked(uint32_t ssrc, int64_t nowMs);
  // The entry of ssrc or null. Engine thread (no lock needed) or holding mu.
  SsrcEntry* find(uint32_t ssrc) const;

  // Copies every entry. Any thread; takes the lock.
  void snapshot(std::vector<SsrcSnapshot>& out);

  std::mutex mu;

 private:
  std::vector<std::unique_ptr<SsrcEntry>> entries_;
};

// Computes b.mos as the reference's mos_calc() does (daemon/ssrc.c), quirks
// included: MOS-CQ needs a round-trip time; MOS-LQ only waives that need.
void computeMos(StatsBlock& b, MosType type);

}  // namespace rtpe
