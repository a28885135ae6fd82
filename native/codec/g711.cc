// Internal codecs: G.711 A-law and mu-law (ITU-T G.711, by table lookup) and
// L16 (RFC 3551 4.5.11, big-endian linear PCM). Sample streams: a decode call
// takes a whole payload, an encode call makes one.
#include <cstring>

#include "codec.h"

namespace rtpe {
namespace codec {

namespace {

// Encodes one 16-bit sample to A-law (G.711 section 2, segment search).
uint8_t linearToAlaw(int16_t pcm) {
  int v = pcm >> 3;  // 13-bit magnitude range
  uint8_t mask;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  static const int kSegEnd[8] = {0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff};
  int seg = 0;
  while (seg < 8 && v > kSegEnd[seg]) seg++;
  if (seg >= 8) return static_cast<uint8_t>(0x7f ^ mask);
  int aval = seg << 4;
  aval |= (seg < 2) ? ((v >> 1) & 0x0f) : ((v >> seg) & 0x0f);
  return static_cast<uint8_t>(aval ^ mask);
}

int16_t alawToLinear(uint8_t a) {
  a ^= 0x55;
  int t = (a & 0x0f) << 4;
  int seg = (a & 0x70) >> 4;
  switch (seg) {
    case 0:
      t += 8;
      break;
    case 1:
      t += 0x108;
      break;
    default:
      t += 0x108;
      t <<= seg - 1;
  }
  return static_cast<int16_t>((a & 0x80) ? t : -t);
}

// mu-law with the usual bias of 0x84 (G.711 section 3).
uint8_t linearToUlaw(int16_t pcm) {
  const int kBias = 0x84, kClip = 32635;
  int v = pcm;
  uint8_t mask;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > kClip) v = kClip;
  v += kBias;
  int seg = 0;
  for (int tmp = v >> 7; tmp > 1 && seg < 7; tmp >>= 1) seg++;
  int uval = (seg << 4) | ((v >> (seg + 3)) & 0x0f);
  return static_cast<uint8_t>(uval ^ mask);
}

int16_t ulawToLinear(uint8_t u) {
  u = ~u;
  int t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return static_cast<int16_t>((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

// Decode tables (256 entries) and encode tables indexed by the top 14 bits of
// the sample, built once at load time.
struct G711Tables {
  int16_t alawDec[256];
  int16_t ulawDec[256];
  uint8_t alawEnc[16384];
  uint8_t ulawEnc[16384];
  G711Tables() {
    for (int i = 0; i < 256; i++) {
      alawDec[i] = alawToLinear(static_cast<uint8_t>(i));
      ulawDec[i] = ulawToLinear(static_cast<uint8_t>(i));
    }
    for (int i = 0; i < 16384; i++) {
      int16_t s = static_cast<int16_t>((i - 8192) * 4);
      alawEnc[i] = linearToAlaw(s);
      ulawEnc[i] = linearToUlaw(s);
    }
  }
};
const G711Tables kTables;

inline unsigned encIndex(int16_t s) { return static_cast<unsigned>((s >> 2) + 8192); }

// The largest payload a sample-stream decoder is given at once.
constexpr int kMaxStreamSamples = 9600;  // 200 ms at 48 kHz, per channel

class G711Decoder : public Decoder {
 public:
  G711Decoder(bool alaw, int rate) : table_(alaw ? kTables.alawDec : kTables.ulawDec) {
    rate_ = rate;
    channels_ = 1;
    maxFrame_ = kMaxStreamSamples;
  }
  int decode(const uint8_t* data, size_t len, int16_t* out, int cap) override {
    int n = static_cast<int>(len) < cap ? static_cast<int>(len) : cap;
    for (int i = 0; i < n; i++) out[i] = table_[data[i]];
    return n;
  }

 private:
  const int16_t* table_;
};

class G711Encoder : public Encoder {
 public:
  G711Encoder(bool alaw, int rate, int frame) : table_(alaw ? kTables.alawEnc : kTables.ulawEnc) {
    rate_ = rate;
    channels_ = 1;
    frame_ = frame;
  }
  int encode(const int16_t* in, uint8_t* out, size_t cap) override {
    if (static_cast<size_t>(frame_) > cap) return -1;
    for (int i = 0; i < frame_; i++) out[i] = table_[encIndex(in[i])];
    return frame_;
  }

 private:
  const uint8_t* table_;
};

class L16Decoder : public Decoder {
 public:
  L16Decoder(int rate, int channels) {
    rate_ = rate;
    channels_ = channels;
    maxFrame_ = kMaxStreamSamples;
  }
  int decode(const uint8_t* data, size_t len, int16_t* out, int cap) override {
    int n = static_cast<int>(len / (2 * channels_));
    if (n > cap) n = cap;
    for (int i = 0; i < n * channels_; i++)
      out[i] = static_cast<int16_t>((static_cast<uint16_t>(data[2 * i]) << 8) | data[2 * i + 1]);
    return n;
  }
};

class L16Encoder : public Encoder {
 public:
  L16Encoder(int rate, int channels, int frame) {
    rate_ = rate;
    channels_ = channels;
    frame_ = frame;
  }
  int encode(const int16_t* in, uint8_t* out, size_t cap) override {
    size_t bytes = static_cast<size_t>(frame_) * channels_ * 2;
    if (bytes > cap) return -1;
    for (int i = 0; i < frame_ * channels_; i++) {
      uint16_t v = static_cast<uint16_t>(in[i]);
      out[2 * i] = static_cast<uint8_t>(v >> 8);
      out[2 * i + 1] = static_cast<uint8_t>(v);
    }
    return static_cast<int>(bytes);
  }
};

}  // namespace

std::unique_ptr<Decoder> makeInternalDecoder(const std::string& name, const CodecParams& p, std::string& err) {
  if (name == "alaw" || name == "ulaw") return std::unique_ptr<Decoder>(new G711Decoder(name == "alaw", p.sampleRate));
  if (name == "l16") return std::unique_ptr<Decoder>(new L16Decoder(p.sampleRate, p.channels));
  err = "no internal decoder " + name;
  return nullptr;
}

std::unique_ptr<Encoder> makeInternalEncoder(const std::string& name, const CodecParams& p, std::string& err) {
  int frame = p.frameSamples > 0 ? p.frameSamples : p.sampleRate / 50;
  if (name == "alaw" || name == "ulaw")
    return std::unique_ptr<Encoder>(new G711Encoder(name == "alaw", p.sampleRate, frame));
  if (name == "l16") return std::unique_ptr<Encoder>(new L16Encoder(p.sampleRate, p.channels, frame));
  err = "no internal encoder " + name;
  return nullptr;
}

}  // namespace codec
}  // namespace rtpe
