// The libavcodec backend: any FFmpeg audio decoder or encoder by name
// ("g722", "g723_1", "gsm", "libgsm", "libspeex", "ilbc", "libopencore_amrnb",
// "libopencore_amrwb", "libvo_amrwbenc", ...), converting to and from
// interleaved S16.
#include <cstring>
#include <mutex>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

#include "codec.h"

namespace rtpe {
namespace codec {

namespace {

void quietAvLog() {
  static std::once_flag once;
  // Malformed payloads are counted by the transcoder; FFmpeg's own complaints
  // would only flood stderr.
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

inline int16_t clip16(float f) {
  float v = f * 32768.0f;
  if (v > 32767.0f) return 32767;
  if (v < -32768.0f) return -32768;
  return static_cast<int16_t>(v);
}

// Copies a decoded frame to interleaved S16 at out (cap samples per channel).
// Returns samples per channel copied.
int frameToS16(const AVFrame* f, int channels, int16_t* out, int cap) {
  int n = f->nb_samples < cap ? f->nb_samples : cap;
  int fch = f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : 1;
  int ch = channels;
  for (int c = 0; c < ch; c++) {
    int src = c < fch ? c : fch - 1;
    switch (f->format) {
      case AV_SAMPLE_FMT_S16: {
        const int16_t* s = reinterpret_cast<const int16_t*>(f->data[0]);
        for (int i = 0; i < n; i++) out[i * ch + c] = s[i * fch + src];
        break;
      }
      case AV_SAMPLE_FMT_S16P: {
        const int16_t* s = reinterpret_cast<const int16_t*>(f->extended_data[src]);
        for (int i = 0; i < n; i++) out[i * ch + c] = s[i];
        break;
      }
      case AV_SAMPLE_FMT_FLT: {
        const float* s = reinterpret_cast<const float*>(f->data[0]);
        for (int i = 0; i < n; i++) out[i * ch + c] = clip16(s[i * fch + src]);
        break;
      }
      case AV_SAMPLE_FMT_FLTP: {
        const float* s = reinterpret_cast<const float*>(f->extended_data[src]);
        for (int i = 0; i < n; i++) out[i * ch + c] = clip16(s[i]);
        break;
      }
      case AV_SAMPLE_FMT_S32: {
        const int32_t* s = reinterpret_cast<const int32_t*>(f->data[0]);
        for (int i = 0; i < n; i++) out[i * ch + c] = static_cast<int16_t>(s[i * fch + src] >> 16);
        break;
      }
      case AV_SAMPLE_FMT_S32P: {
        const int32_t* s = reinterpret_cast<const int32_t*>(f->extended_data[src]);
        for (int i = 0; i < n; i++) out[i * ch + c] = static_cast<int16_t>(s[i] >> 16);
        break;
      }
      default:
        return -1;
    }
  }
  return n;
}

bool isAmr(const std::string& name) { return name.find("amr") != std::string::npos; }

class AvDecoder : public Decoder {
 public:
  ~AvDecoder() override {
    av_buffer_unref(&in_);
    av_frame_free(&frame_);
    av_packet_free(&pkt_);
    avcodec_free_context(&ctx_);
  }

  bool open(const std::string& name, const CodecParams& p, std::string& err) {
    quietAvLog();
    amr_ = isAmr(name);
    const AVCodec* c = avcodec_find_decoder_by_name(name.c_str());
    if (!c) {
      err = "FFmpeg has no decoder " + name;
      return false;
    }
    ctx_ = avcodec_alloc_context3(c);
    pkt_ = av_packet_alloc();
    frame_ = av_frame_alloc();
    in_ = av_buffer_alloc(kMaxIn + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!ctx_ || !pkt_ || !frame_ || !in_) {
      err = "out of memory";
      return false;
    }
    ctx_->sample_rate = p.sampleRate;
    av_channel_layout_default(&ctx_->ch_layout, p.channels);
    ctx_->thread_count = 1;
    if (name == "ilbc") ctx_->block_align = p.mode == 20 ? 38 : 50;
    int rc = avcodec_open2(ctx_, c, nullptr);
    if (rc < 0) {
      err = "cannot open FFmpeg decoder " + name;
      return false;
    }
    rate_ = p.sampleRate;
    channels_ = p.channels;
    maxFrame_ = 9600;
    return true;
  }

  int decode(const uint8_t* data, size_t len, int16_t* out, int cap) override {
    // A reference-counted packet over our own buffer saves libavcodec from
    // copying it into a fresh one. The buffer is lent, not referenced: once
    // the decoder has dropped its reference (it has, after a full drain) it
    // is ours to overwrite.
    const bool lend = in_ && len <= kMaxIn && av_buffer_is_writable(in_);
    if (lend) {
      std::memcpy(in_->data, data, len);
      std::memset(in_->data + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
      pkt_->buf = in_;
      pkt_->data = in_->data;
    } else {
      pkt_->data = const_cast<uint8_t*>(data);
    }
    pkt_->size = static_cast<int>(len);
    int rc = avcodec_send_packet(ctx_, pkt_);
    pkt_->buf = nullptr;
    pkt_->data = nullptr;
    pkt_->size = 0;
    if (rc < 0 && rc != AVERROR(EAGAIN)) return -1;
    int total = 0;
    for (;;) {
      rc = avcodec_receive_frame(ctx_, frame_);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) break;
      if (rc < 0) return total > 0 ? total : -1;
      int n = frameToS16(frame_, channels_, out + total * channels_, cap - total);
      av_frame_unref(frame_);
      if (n < 0) return -1;
      total += n;
    }
    return total;
  }

  // opencore-amr conceals a NO_DATA frame (frame type 15) from its history,
  // and after a SID frame turns it into comfort noise.
  int conceal(int samples, int16_t* out) override { return amr_ ? noData(samples, out) : 0; }
  int dtx(int samples, int16_t* out) override { return amr_ ? noData(samples, out) : 0; }
  bool hasConcealment() const override { return amr_; }

 private:
  int noData(int samples, int16_t* out) {
    const int frame = rate_ / 50;
    int total = 0;
    while (total + frame <= samples) {
      static const uint8_t kNoData[1] = {0x7c};
      int n = decode(kNoData, 1, out + total * channels_, samples - total);
      if (n <= 0) break;
      total += n;
    }
    return total;
  }

  static constexpr size_t kMaxIn = 8192;
  AVCodecContext* ctx_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVBufferRef* in_ = nullptr;  // input packet buffer, lent to the decoder
  bool amr_ = false;
};

class AvEncoder : public Encoder {
 public:
  ~AvEncoder() override {
    av_frame_free(&avf_);
    av_packet_free(&pkt_);
    avcodec_free_context(&ctx_);
  }

  bool open(const std::string& name, const CodecParams& p, std::string& err) {
    quietAvLog();
    const AVCodec* c = avcodec_find_encoder_by_name(name.c_str());
    if (!c) {
      err = "FFmpeg has no encoder " + name;
      return false;
    }
    bool s16 = false;
    for (const AVSampleFormat* f = c->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; f++)
      if (*f == AV_SAMPLE_FMT_S16) s16 = true;
    if (!s16) {
      err = "FFmpeg encoder " + name + " does not take 16-bit samples";
      return false;
    }
    ctx_ = avcodec_alloc_context3(c);
    pkt_ = av_packet_alloc();
    avf_ = av_frame_alloc();
    if (!ctx_ || !pkt_ || !avf_) {
      err = "out of memory";
      return false;
    }
    ctx_->sample_rate = p.sampleRate;
    av_channel_layout_default(&ctx_->ch_layout, p.channels);
    ctx_->sample_fmt = AV_SAMPLE_FMT_S16;
    ctx_->thread_count = 1;
    ctx_->time_base = AVRational{1, p.sampleRate};
    if (p.spec->bitrate > 0) ctx_->bit_rate = p.spec->bitrate;
    if (p.frameSamples > 0) ctx_->frame_size = p.frameSamples;
    AVDictionary* opts = nullptr;
    if (name == "libopencore_amrnb" || name == "libvo_amrwbenc") av_dict_set(&opts, "dtx", "0", 0);
    if (name == "libspeex") av_dict_set(&opts, "frames_per_packet", "1", 0);
    int rc = avcodec_open2(ctx_, c, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
      err = "cannot open FFmpeg encoder " + name;
      return false;
    }
    rate_ = p.sampleRate;
    channels_ = p.channels;
    bool variable = (c->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) != 0;
    frame_ = (ctx_->frame_size > 0 && !variable) ? ctx_->frame_size
                                                 : (p.frameSamples > 0 ? p.frameSamples : p.sampleRate / 50);
    avf_->nb_samples = frame_;
    avf_->format = AV_SAMPLE_FMT_S16;
    avf_->sample_rate = rate_;
    av_channel_layout_copy(&avf_->ch_layout, &ctx_->ch_layout);
    if (av_frame_get_buffer(avf_, 0) < 0) {
      err = "out of memory";
      return false;
    }
    return true;
  }

  int encode(const int16_t* in, uint8_t* out, size_t cap) override {
    if (av_frame_make_writable(avf_) < 0) return -1;
    std::memcpy(avf_->data[0], in, static_cast<size_t>(frame_) * channels_ * sizeof(int16_t));
    avf_->pts = pts_;
    pts_ += frame_;
    int rc = avcodec_send_frame(ctx_, avf_);
    if (rc < 0 && rc != AVERROR(EAGAIN)) return -1;
    size_t total = 0;
    for (;;) {
      rc = avcodec_receive_packet(ctx_, pkt_);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) break;
      if (rc < 0) return -1;
      if (total + static_cast<size_t>(pkt_->size) <= cap) {
        std::memcpy(out + total, pkt_->data, pkt_->size);
        total += pkt_->size;
      }
      av_packet_unref(pkt_);
    }
    return static_cast<int>(total);
  }

 private:
  AVCodecContext* ctx_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* avf_ = nullptr;
  int64_t pts_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> makeAvDecoder(const std::string& name, const CodecParams& p, std::string& err) {
  std::unique_ptr<AvDecoder> d(new AvDecoder());
  if (!d->open(name, p, err)) return nullptr;
  return d;
}

std::unique_ptr<Encoder> makeAvEncoder(const std::string& name, const CodecParams& p, std::string& err) {
  std::unique_ptr<AvEncoder> e(new AvEncoder());
  if (!e->open(name, p, err)) return nullptr;
  return e;
}

bool avAvailable(const std::string& name, bool encode) {
  quietAvLog();
  return encode ? avcodec_find_encoder_by_name(name.c_str()) != nullptr
                : avcodec_find_decoder_by_name(name.c_str()) != nullptr;
}

}  // namespace codec
}  // namespace rtpe
