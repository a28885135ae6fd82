// RTCP parsing and RTP tracking: see rtcp.h.
#include "rtcp.h"

#include "bytes.h"

#include <ctime>
#include <mutex>

#include "stream.h"

namespace rtpe {
namespace rtcp {

namespace {

constexpr uint8_t kSr = 200;
constexpr uint8_t kRr = 201;
constexpr uint8_t kXr = 207;

constexpr uint8_t kXrRrTime = 4;
constexpr uint8_t kXrDlrr = 5;
constexpr uint8_t kXrVoipMetrics = 7;

constexpr size_t kReportBlock = 24;


int64_t unixUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// The clock rate of a payload type: as signalled for the stream's media, or,
// when nothing was signalled, the static assignments of RFC 3551. 0 when
// unknown (the reference then discards the report).
uint32_t clockRate(const Stream& s, int pt) {
  const auto& rates = s.hot.clockRates;
  if (!rates.empty()) {
    for (const PtClock& c : rates) {
      if (c.pt == pt) return c.clockRate;
    }
    return 0;
  }
  switch (pt) {
    case 0: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 13: case 15: case 18:
      return 8000;
    case 6: return 16000;
    case 10: case 11: return 44100;
    case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34: return 90000;
    case 16: return 11025;
    case 17: return 22050;
    default: return 0;
  }
}

// The round trip of the leg a report came over: from when the daemon received
// the report it refers to (a sender report, or an XR receiver reference time)
// to now, less the delay the reporter says it held it. Stores it as the
// referred SSRC's last round trip. pt receives the referred SSRC's payload type
// (-1 if no timing information or no such SSRC). The reference's calc_rtt().
int64_t roundTrip(SsrcTable& t, uint32_t about, uint32_t ntpMiddle, uint32_t delay, int64_t now, bool senderReport,
                  int* pt) {
  if (pt) *pt = -1;
  if (!ntpMiddle || !delay) return 0;
  SsrcEntry* e = t.find(about);
  if (!e) return 0;
  if (pt) *pt = e->payloadTypes.most();
  int64_t received = senderReport ? e->findSenderReport(ntpMiddle) : e->findRrTime(ntpMiddle);
  if (!received) return 0;
  int64_t rtt = now - received - static_cast<int64_t>(delay) * 1000000 / 65536;
  if (rtt <= 0 || rtt > 10000000) return 0;
  e->lastRtt = rtt;
  return rtt;
}

// One report block of an SR or RR sent by `from`. The reference's
// ssrc_receiver_report().
void reportBlock(const Stream& s, SsrcTable& t, uint32_t from, const uint8_t* b, int64_t now) {
  uint32_t about = be32(b);
  uint8_t fractionLost = b[4];
  uint32_t lost = static_cast<uint32_t>(b[5]) << 16 | static_cast<uint32_t>(b[6]) << 8 | b[7];
  uint32_t highestSeq = be32(b + 8);
  uint32_t jitter = be32(b + 12);
  uint32_t lsr = be32(b + 16);
  uint32_t dlsr = be32(b + 20);

  int pt;
  int64_t rtt = roundTrip(t, about, lsr, dlsr, now, true, &pt);

  SsrcEntry* other = t.getLocked(from, now / 1000);
  other->haveReport = true;
  other->reportAbout = about;
  other->fractionLost = fractionLost;
  other->highestSeq = highestSeq;
  other->jitterRaw = jitter;

  // Without the payload type, or with one the media did not signal, the
  // jitter has no clock rate and the reference discards the report.
  if (pt < 0) return;
  uint32_t rate = clockRate(s, pt);
  if (rate == 0) return;
  StatsBlock block;
  block.jitter = jitter * 1000u / rate;  // 32-bit arithmetic, as the reference
  block.rttLeg = static_cast<uint64_t>(rtt);
  block.rtt = other->lastRtt ? static_cast<uint64_t>(rtt + other->lastRtt) : 0;
  // An XR VoIP-metrics round-trip delay about the reporter, received on this
  // side, replaces it (the reference looks it up in this side's SSRC table).
  if (other->lastRttXr > 0 && other->lastRttXrStream == s.id) block.rtt = static_cast<uint64_t>(other->lastRttXr) * 1000;
  block.reportedUs = now;
  block.packetLoss = static_cast<uint32_t>(fractionLost) * 100 / 256;
  other->packetsLost = lost;
  computeMos(block, t.mos);
  // At most one sample a second per reporting SSRC.
  if (other->blockCount > 0 && now - other->lastReportedUs < 1000000) return;
  other->addBlock(block);
  other->lastReportedUs = now;
}

bool reportBlocks(const Stream& s, SsrcTable& t, uint32_t from, const uint8_t* p, size_t avail, int count,
                  int64_t now) {
  if (avail < static_cast<size_t>(count) * kReportBlock) return false;
  for (int i = 0; i < count; i++) reportBlock(s, t, from, p + i * kReportBlock, now);
  return true;
}

void extendedReport(const Stream& s, SsrcTable& t, uint32_t from, const uint8_t* p, size_t len, int64_t now) {
  size_t off = 8;
  while (len - off >= 4) {
    const uint8_t* b = p + off;
    size_t blen = (static_cast<size_t>(be16(b + 2)) + 1) * 4;
    if (blen > len - off) break;
    off += blen;
    switch (b[0]) {
      case kXrRrTime:
        if (blen < 12) break;
        t.getLocked(from, now / 1000)->pushRrTime(be32(b + 4) << 16 | be32(b + 8) >> 16, now);
        break;
      case kXrDlrr:
        // Only the first sub-block, as the reference.
        if (blen < 16) break;
        roundTrip(t, be32(b + 4), be32(b + 8), be32(b + 12), now, false, nullptr);
        break;
      case kXrVoipMetrics: {
        if (blen < 36) break;
        SsrcEntry* e = t.getLocked(be32(b + 4), now / 1000);
        e->lastRttXr = be16(b + 16);
        e->lastRttXrStream = s.id;
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

void onRtp(Stream& s, const uint8_t* d, uint32_t, int64_t nowMs) {
  uint32_t ssrc = be32(d + 8);
  uint8_t pt = d[1] & 0x7f;
  MediaTrack& tr = s.track;
  tr.noteSsrc(ssrc);
  tr.payloadTypes.add(pt);
  SsrcTable* t = s.ssrcTable.get();
  if (!t) return;
  SsrcEntry* e = tr.cached;
  if (!e || !e->used || e->ssrc != ssrc) {
    std::lock_guard<std::mutex> lock(t->mu);
    e = t->getLocked(ssrc, nowMs);
    tr.cached = e;
  }
  e->lastUsedMs = nowMs;
  e->payloadTypes.add(pt);
  e->packets.store(e->packets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  e->lastSeq.store(be16(d + 2), std::memory_order_relaxed);
}

bool onRtcp(Stream& s, const uint8_t* d, uint32_t len) {
  if (len >= 8) s.track.noteSsrc(be32(d + 4));
  SsrcTable* t = s.ssrcTable.get();
  if (!t) return true;
  int64_t now = unixUs();
  std::lock_guard<std::mutex> lock(t->mu);
  size_t off = 0;
  while (len - off >= 4) {
    const uint8_t* p = d + off;
    if ((p[0] >> 6) != 2) return false;
    size_t plen = (static_cast<size_t>(be16(p + 2)) + 1) * 4;
    if (plen > len - off) return false;
    off += plen;
    int count = p[0] & 0x1f;
    switch (p[1]) {
      case kSr: {
        if (plen < 28) return false;
        uint32_t from = be32(p + 4);
        uint32_t middle = be32(p + 8) << 16 | be32(p + 12) >> 16;
        t->getLocked(from, now / 1000)->pushSenderReport(middle, now);
        if (!reportBlocks(s, *t, from, p + 28, plen - 28, count, now)) return false;
        break;
      }
      case kRr:
        if (plen < 8) return false;
        if (!reportBlocks(s, *t, be32(p + 4), p + 8, plen - 8, count, now)) return false;
        break;
      case kXr:
        if (plen < 8) return false;
        extendedReport(s, *t, be32(p + 4), p, plen, now);
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace rtcp
}  // namespace rtpe
