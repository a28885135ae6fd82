// RTP payload formats (see packetizer.h).
#include "packetizer.h"

#include <opus/opus.h>

#include <cstring>
#include <string>

namespace rtpe {
namespace codec {

namespace {

const int16_t kAmrNbBits[16] = {95, 103, 118, 134, 148, 159, 204, 244, 39, 0, 0, 0, 0, 0, 0, 0};
const int16_t kAmrWbBits[16] = {132, 177, 253, 285, 317, 365, 397, 461, 477, 40, 0, 0, 0, 0, 0, 0};
const int kAmrNbRates[8] = {4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200};
const int kAmrWbRates[9] = {6600, 8850, 12650, 14250, 15850, 18250, 19850, 23050, 23850};

bool isWideband(const CodecSpec& s) { return s.name == "AMR-WB" || s.clockRate == 16000; }

// Reads bits MSB first.
struct BitReader {
  const uint8_t* p;
  size_t bits;  // total
  size_t pos = 0;
  BitReader(const uint8_t* data, size_t len) : p(data), bits(len * 8) {}
  bool read(int n, uint32_t& v) {
    if (pos + n > bits) return false;
    v = 0;
    for (int i = 0; i < n; i++, pos++) v = (v << 1) | ((p[pos >> 3] >> (7 - (pos & 7))) & 1);
    return true;
  }
};

struct BitWriter {
  uint8_t* p;
  size_t cap;  // bytes
  size_t pos = 0;
  BitWriter(uint8_t* out, size_t c) : p(out), cap(c) {}
  bool write(uint32_t v, int n) {
    if ((pos + n + 7) / 8 > cap) return false;
    for (int i = n - 1; i >= 0; i--, pos++) {
      uint8_t& b = p[pos >> 3];
      if ((pos & 7) == 0) b = 0;
      if ((v >> i) & 1) b |= static_cast<uint8_t>(0x80 >> (pos & 7));
    }
    return true;
  }
  size_t bytes() const { return (pos + 7) / 8; }
};

}  // namespace

int amrSpeechBits(bool wideband, int ft) { return (ft < 0 || ft > 15) ? 0 : (wideband ? kAmrWbBits[ft] : kAmrNbBits[ft]); }

int amrBitrate(const CodecSpec& spec, int requested) {
  bool wb = isWideband(spec);
  const int* rates = wb ? kAmrWbRates : kAmrNbRates;
  int n = wb ? 9 : 8;
  unsigned allowed = 0xffff;
  std::string ms;
  if (Fmtp(spec.fmtp).get("mode-set", ms) && !ms.empty()) {
    allowed = 0;
    size_t i = 0;
    while (i < ms.size()) {
      while (i < ms.size() && (ms[i] == ',' || ms[i] == ' ')) i++;
      int v = 0;
      bool any = false;
      while (i < ms.size() && ms[i] >= '0' && ms[i] <= '9') {
        v = v * 10 + (ms[i] - '0');
        i++;
        any = true;
      }
      if (any && v < n) allowed |= 1u << v;
      while (i < ms.size() && ms[i] != ',') i++;
    }
    if (!allowed) allowed = 0xffff;
  }
  if (requested <= 0) requested = wb ? 14250 : 6700;
  int best = -1, lowest = -1;
  for (int m = 0; m < n; m++) {
    if (!(allowed & (1u << m))) continue;
    if (lowest < 0) lowest = m;
    if (rates[m] <= requested) best = m;
  }
  if (best < 0) best = lowest;
  return rates[best];
}

void Depacketizer::init(const CodecSpec& spec) {
  kind_ = spec.packetizer;
  wideband_ = isWideband(spec);
  octetAligned_ = Fmtp(spec.fmtp).getInt("octet-align", 0) == 1;
  ilbcMode_ = Fmtp(spec.fmtp).getInt("mode", 30) == 20 ? 20 : 30;
}

int Depacketizer::split(const uint8_t* p, size_t len, FrameRef* frames, int max) {
  if (len == 0) return -1;
  int n = 0;
  switch (kind_) {
    case Packetizer::Samples:
    case Packetizer::Whole:
    case Packetizer::Opus:
      frames[0] = FrameRef{p, static_cast<uint16_t>(len > 65535 ? 65535 : len), 0, false};
      return 1;
    case Packetizer::Frames: {
      const size_t fs = 33;  // GSM full rate
      if (len % fs) return -1;
      for (size_t off = 0; off < len && n < max; off += fs) frames[n++] = FrameRef{p + off, fs, 0, false};
      return n;
    }
    case Packetizer::G723: {
      static const uint8_t kSizes[4] = {24, 20, 4, 1};
      size_t off = 0;
      while (off < len && n < max) {
        uint8_t fs = kSizes[p[off] & 3];
        if (off + fs > len) return -1;
        frames[n++] = FrameRef{p + off, fs, 0, (p[off] & 3) == 2};
        off += fs;
      }
      return n;
    }
    case Packetizer::G729: {
      size_t off = 0;
      while (len - off >= 10 && n < max) {
        frames[n++] = FrameRef{p + off, 10, 0, false};
        off += 10;
      }
      if (len - off == 2 && n < max) {
        frames[n++] = FrameRef{p + off, 2, 0, true};
        off += 2;
      }
      return off == len ? n : -1;
    }
    case Packetizer::Ilbc: {
      size_t fs;
      if (ilbcMode_ == 30)
        fs = (len % 50 == 0) ? 50 : (len % 38 == 0 ? 38 : 0);
      else
        fs = (len % 38 == 0) ? 38 : (len % 50 == 0 ? 50 : 0);
      if (!fs) return -1;
      for (size_t off = 0; off < len && n < max; off += fs)
        frames[n++] = FrameRef{p + off, static_cast<uint16_t>(fs), static_cast<uint8_t>(fs == 38 ? 20 : 30), false};
      return n;
    }
    case Packetizer::Amr:
      return splitAmr(p, len, frames, max);
    case Packetizer::None:
      return -1;
  }
  return -1;
}

// RFC 4867 section 4.4 (bandwidth-efficient) and 4.3 (octet-aligned), single
// channel, no interleaving, no CRC.
int Depacketizer::splitAmr(const uint8_t* p, size_t len, FrameRef* frames, int max) {
  if (max > kMaxFrames) max = kMaxFrames;
  uint8_t fts[kMaxFrames];
  uint8_t qs[kMaxFrames];
  int n = 0;
  BitReader br(p, len);
  uint32_t v;
  if (!br.read(4, v)) return -1;  // CMR
  if (octetAligned_ && !br.read(4, v)) return -1;
  // Table of contents.
  for (;;) {
    uint32_t f, ft, q;
    if (!br.read(1, f) || !br.read(4, ft) || !br.read(1, q)) return -1;
    if (octetAligned_ && !br.read(2, v)) return -1;
    if (n >= max) return -1;
    fts[n] = static_cast<uint8_t>(ft);
    qs[n] = static_cast<uint8_t>(q);
    n++;
    if (!f) break;
  }
  // Frames, converted to the storage format in scratch_.
  size_t out = 0;
  for (int i = 0; i < n; i++) {
    int bits = amrSpeechBits(wideband_, fts[i]);
    if (bits == 0 && !(fts[i] == 15 || fts[i] == 14)) return -1;  // reserved frame type
    size_t bytes = (bits + 7) / 8;
    uint8_t* dst = scratch_ + out;
    dst[0] = static_cast<uint8_t>((fts[i] << 3) | (qs[i] << 2));
    for (size_t b = 0; b < bytes; b++) dst[1 + b] = 0;
    for (int b = 0; b < bits; b++) {
      uint32_t bit;
      if (!br.read(1, bit)) return -1;
      if (bit) dst[1 + (b >> 3)] |= static_cast<uint8_t>(0x80 >> (b & 7));
    }
    if (octetAligned_ && (br.pos & 7)) br.pos += 8 - (br.pos & 7);
    bool sid = (wideband_ ? fts[i] == 9 : fts[i] == 8);
    frames[i] = FrameRef{dst, static_cast<uint16_t>(1 + bytes), 0, sid};
    out += 1 + bytes;
  }
  return n;
}

PayloadBuilder::PayloadBuilder() : stage_(new uint8_t[kStage]) {}

PayloadBuilder::~PayloadBuilder() {
  if (rp_) opus_repacketizer_destroy(rp_);
}

void PayloadBuilder::init(const CodecSpec& spec) {
  kind_ = spec.packetizer;
  wideband_ = isWideband(spec);
  octetAligned_ = Fmtp(spec.fmtp).getInt("octet-align", 0) == 1;
  if (kind_ == Packetizer::Opus && !rp_) rp_ = opus_repacketizer_create();
  clear();
}

bool PayloadBuilder::add(const uint8_t* data, size_t len) {
  if (len == 0) return true;
  if (count_ >= kMaxFrames || used_ + len > kStage) return false;
  std::memcpy(stage_.get() + used_, data, len);
  off_[count_] = static_cast<uint16_t>(used_);
  len_[count_] = static_cast<uint16_t>(len);
  used_ += len;
  count_++;
  return true;
}

int PayloadBuilder::build(uint8_t* out, size_t cap) {
  int n = count_;
  const uint8_t* st = stage_.get();
  size_t total = 0;
  if (n == 0) return 0;
  switch (kind_) {
    case Packetizer::Amr: {
      BitWriter bw(out, cap);
      int kept = 0;
      int idx[kMaxFrames];
      for (int i = 0; i < n; i++) {
        int ft = (st[off_[i]] >> 3) & 0x0f;
        if (ft == 15) continue;  // NO_DATA: nothing to send
        idx[kept++] = i;
      }
      if (!kept) break;
      bw.write(15, 4);  // CMR: no mode request
      if (octetAligned_) bw.write(0, 4);
      for (int k = 0; k < kept; k++) {
        uint8_t toc = st[off_[idx[k]]];
        bw.write(k + 1 < kept ? 1 : 0, 1);
        bw.write((toc >> 3) & 0x0f, 4);
        bw.write((toc >> 2) & 1, 1);
        if (octetAligned_) bw.write(0, 2);
      }
      for (int k = 0; k < kept; k++) {
        const uint8_t* f = st + off_[idx[k]];
        int bits = amrSpeechBits(wideband_, (f[0] >> 3) & 0x0f);
        if (static_cast<size_t>((bits + 7) / 8 + 1) > len_[idx[k]]) bits = (len_[idx[k]] - 1) * 8;
        for (int b = 0; b < bits; b++) {
          if (!bw.write((f[1 + (b >> 3)] >> (7 - (b & 7))) & 1, 1)) {
            clear();
            return -1;
          }
        }
        if (octetAligned_ && (bw.pos & 7)) bw.write(0, 8 - static_cast<int>(bw.pos & 7));
      }
      total = bw.bytes();
      break;
    }
    case Packetizer::Opus: {
      if (n == 1) {
        if (len_[0] > cap) break;
        std::memcpy(out, st + off_[0], len_[0]);
        total = len_[0];
        break;
      }
      // Frames join only while they share mode, bandwidth and frame size; when
      // the encoder switched mode inside the packet, the frames after the
      // switch are dropped (a rare 10-20 ms glitch, never a broken packet).
      opus_repacketizer_init(rp_);
      for (int i = 0; i < n; i++)
        if (opus_repacketizer_cat(rp_, st + off_[i], len_[i]) != OPUS_OK) break;
      if (opus_repacketizer_get_nb_frames(rp_) == 0) break;
      opus_int32 r = opus_repacketizer_out(rp_, out, static_cast<opus_int32>(cap));
      total = r > 0 ? static_cast<size_t>(r) : 0;
      break;
    }
    case Packetizer::G729: {
      for (int i = 0; i < n; i++) {
        // A SID frame may only come last.
        if (len_[i] == 2 && i + 1 < n) continue;
        if (total + len_[i] > cap) break;
        std::memcpy(out + total, st + off_[i], len_[i]);
        total += len_[i];
      }
      break;
    }
    default:
      for (int i = 0; i < n; i++) {
        if (total + len_[i] > cap) break;
        std::memcpy(out + total, st + off_[i], len_[i]);
        total += len_[i];
      }
      break;
  }
  clear();
  return static_cast<int>(total);
}

}  // namespace codec
}  // namespace rtpe
