// G.729 (annex A, with annex B VAD/DTX/CNG) through bcg729, both directions.
// One frame is 10 ms: 80 samples, 10 bytes of speech, or a 2-byte SID frame.
extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include "codec.h"

namespace rtpe {
namespace codec {

namespace {

constexpr int kFrame = 80;

class G729Decoder : public Decoder {
 public:
  G729Decoder() : ctx_(initBcg729DecoderChannel()) {
    rate_ = 8000;
    channels_ = 1;
    maxFrame_ = kFrame;
  }
  ~G729Decoder() override {
    if (ctx_) closeBcg729DecoderChannel(ctx_);
  }
  bool ok() const { return ctx_ != nullptr; }

  int decode(const uint8_t* data, size_t len, int16_t* out, int cap) override {
    if (cap < kFrame) return -1;
    if (len == 10) {
      bcg729Decoder(ctx_, data, 10, 0, 0, 0, out);
    } else if (len == 2) {
      bcg729Decoder(ctx_, data, 2, 0, 1, 0, out);
    } else {
      return -1;
    }
    return kFrame;
  }
  // Frame erasure: bcg729 extrapolates from the last good frame.
  int conceal(int samples, int16_t* out) override {
    int total = 0;
    while (total + kFrame <= samples) {
      bcg729Decoder(ctx_, nullptr, 0, 1, 0, 0, out + total);
      total += kFrame;
    }
    return total;
  }
  // Untransmitted frames after a SID: comfort noise from the last SID.
  int dtx(int samples, int16_t* out) override {
    int total = 0;
    while (total + kFrame <= samples) {
      bcg729Decoder(ctx_, nullptr, 0, 0, 1, 0, out + total);
      total += kFrame;
    }
    return total;
  }
  bool hasConcealment() const override { return true; }

 private:
  bcg729DecoderChannelContextStruct* ctx_;
};

class G729Encoder : public Encoder {
 public:
  explicit G729Encoder(bool vad) : ctx_(initBcg729EncoderChannel(vad ? 1 : 0)) {
    rate_ = 8000;
    channels_ = 1;
    frame_ = kFrame;
  }
  ~G729Encoder() override {
    if (ctx_) closeBcg729EncoderChannel(ctx_);
  }
  bool ok() const { return ctx_ != nullptr; }

  int encode(const int16_t* in, uint8_t* out, size_t cap) override {
    if (cap < 10) return -1;
    uint8_t len = 0;
    bcg729Encoder(ctx_, in, out, &len);
    return len;
  }

 private:
  bcg729EncoderChannelContextStruct* ctx_;
};

}  // namespace

std::unique_ptr<Decoder> makeG729Decoder(const CodecParams& p, std::string& err) {
  (void)p;
  std::unique_ptr<G729Decoder> d(new G729Decoder());
  if (!d->ok()) {
    err = "bcg729 decoder failed";
    return nullptr;
  }
  return d;
}

std::unique_ptr<Encoder> makeG729Encoder(const CodecParams& p, std::string& err) {
  // RFC 4856: annex B is on unless annexb=no.
  std::string annexb;
  bool vad = true;
  if (Fmtp(p.spec->fmtp).get("annexb", annexb)) vad = !(annexb == "no" || annexb == "No" || annexb == "NO");
  std::unique_ptr<G729Encoder> e(new G729Encoder(vad));
  if (!e->ok()) {
    err = "bcg729 encoder failed";
    return nullptr;
  }
  return e;
}

bool g729Available() {
  bcg729EncoderChannelContextStruct* e = initBcg729EncoderChannel(0);
  if (!e) return false;
  closeBcg729EncoderChannel(e);
  return true;
}

}  // namespace codec
}  // namespace rtpe
