// Opus through libopus directly (RFC 7587): the decoder and encoder run at
// the rate and channel count the graph asks for (8, 12, 16, 24 or 48 kHz; mono
// or stereo), whatever the 48 kHz RTP clock says.
#include <opus/opus.h>

#include "codec.h"

namespace rtpe {
namespace codec {

namespace {

class OpusDec : public Decoder {
 public:
  ~OpusDec() override {
    if (dec_) opus_decoder_destroy(dec_);
  }
  bool open(const CodecParams& p, std::string& err) {
    int rc = OPUS_OK;
    dec_ = opus_decoder_create(p.sampleRate, p.channels, &rc);
    if (!dec_ || rc != OPUS_OK) {
      err = std::string("opus decoder: ") + opus_strerror(rc);
      return false;
    }
    rate_ = p.sampleRate;
    channels_ = p.channels;
    maxFrame_ = rate_ * 120 / 1000;
    return true;
  }
  int decode(const uint8_t* data, size_t len, int16_t* out, int cap) override {
    int n = opus_decode(dec_, data, static_cast<opus_int32>(len), out, cap, 0);
    return n < 0 ? -1 : n;
  }
  int conceal(int samples, int16_t* out) override {
    samples -= samples % (rate_ / 400);  // whole 2.5 ms units
    if (samples <= 0) return 0;
    int n = opus_decode(dec_, nullptr, 0, out, samples, 0);
    return n < 0 ? 0 : n;
  }
  int dtx(int samples, int16_t* out) override { return conceal(samples, out); }
  int recover(const uint8_t* data, size_t len, int samples, int16_t* out) override {
    samples -= samples % (rate_ / 400);
    if (samples <= 0) return 0;
    int n = opus_decode(dec_, data, static_cast<opus_int32>(len), out, samples, 1);
    return n < 0 ? 0 : n;
  }
  bool hasConcealment() const override { return true; }

 private:
  OpusDecoder* dec_ = nullptr;
};

class OpusEnc : public Encoder {
 public:
  ~OpusEnc() override {
    if (enc_) opus_encoder_destroy(enc_);
  }
  bool open(const CodecParams& p, std::string& err) {
    int rc = OPUS_OK;
    enc_ = opus_encoder_create(p.sampleRate, p.channels, OPUS_APPLICATION_VOIP, &rc);
    if (!enc_ || rc != OPUS_OK) {
      err = std::string("opus encoder: ") + opus_strerror(rc);
      return false;
    }
    Fmtp fmtp(p.spec->fmtp);
    int bitrate = p.spec->bitrate > 0 ? p.spec->bitrate : 32000;
    int cap = fmtp.getInt("maxaveragebitrate", 0);
    if (cap >= 6000 && bitrate > cap) bitrate = cap;
    opus_encoder_ctl(enc_, OPUS_SET_BITRATE(bitrate));
    if (p.spec->complexity >= 0 && p.spec->complexity <= 10) opus_encoder_ctl(enc_, OPUS_SET_COMPLEXITY(p.spec->complexity));
    if (fmtp.getInt("useinbandfec", 0) == 1) {
      opus_encoder_ctl(enc_, OPUS_SET_INBAND_FEC(1));
      opus_encoder_ctl(enc_, OPUS_SET_PACKET_LOSS_PERC(10));
    }
    if (fmtp.getInt("cbr", 0) == 1) opus_encoder_ctl(enc_, OPUS_SET_VBR(0));
    rate_ = p.sampleRate;
    channels_ = p.channels;
    frame_ = p.frameSamples > 0 ? p.frameSamples : rate_ / 50;
    return true;
  }
  int encode(const int16_t* in, uint8_t* out, size_t cap) override {
    int n = opus_encode(enc_, in, frame_, out, static_cast<opus_int32>(cap));
    return n < 0 ? -1 : n;
  }

 private:
  OpusEncoder* enc_ = nullptr;
};

}  // namespace

bool opusRate(int rate) { return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000; }

std::unique_ptr<Decoder> makeOpusDecoder(const CodecParams& p, std::string& err) {
  std::unique_ptr<OpusDec> d(new OpusDec());
  if (!d->open(p, err)) return nullptr;
  return d;
}

std::unique_ptr<Encoder> makeOpusEncoder(const CodecParams& p, std::string& err) {
  std::unique_ptr<OpusEnc> e(new OpusEnc());
  if (!e->open(p, err)) return nullptr;
  return e;
}

bool opusAvailable() { return opus_encoder_get_size(1) > 0 && opus_decoder_get_size(1) > 0; }

}  // namespace codec
}  // namespace rtpe
