// Building play lists: see playlist.h.
#include "playlist.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <cstring>

#include "../bytes.h"
#include "../codec/dtmf.h"
#include "../codec/transcoder.h"

namespace rtpe {
namespace player {

namespace {

std::string avError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

// In-memory media for libavformat.
struct MemSource {
  const uint8_t* data;
  size_t len;
  size_t pos;
};

int memRead(void* opaque, uint8_t* buf, int size) {
  auto* m = static_cast<MemSource*>(opaque);
  size_t left = m->len - m->pos;
  if (left == 0) return AVERROR_EOF;
  size_t n = std::min(left, static_cast<size_t>(size));
  std::memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return static_cast<int>(n);
}

int64_t memSeek(void* opaque, int64_t offset, int whence) {
  auto* m = static_cast<MemSource*>(opaque);
  if (whence == AVSEEK_SIZE) return static_cast<int64_t>(m->len);
  int64_t base = whence == SEEK_CUR ? static_cast<int64_t>(m->pos) : whence == SEEK_END ? static_cast<int64_t>(m->len) : 0;
  int64_t to = base + offset;
  if (to < 0 || to > static_cast<int64_t>(m->len)) return -1;
  m->pos = static_cast<size_t>(to);
  return to;
}

// Owns what decodeMedia opens, released in reverse order on every path.
struct Demux {
  AVFormatContext* fmt = nullptr;
  AVIOContext* avio = nullptr;
  AVCodecContext* dec = nullptr;
  SwrContext* swr = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  ~Demux() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    swr_free(&swr);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    if (avio) {
      av_freep(&avio->buffer);
      avio_context_free(&avio);
    }
  }
};

// Converts a decoded frame (or flushes the converter when f is null) and
// appends to pcm.
bool convert(SwrContext* swr, const AVFrame* f, int rate, std::vector<int16_t>& pcm) {
  int inSamples = f ? f->nb_samples : 0;
  int room = swr_get_out_samples(swr, inSamples);
  if (room <= 0) room = 0;
  size_t at = pcm.size();
  pcm.resize(at + static_cast<size_t>(room) + 16);
  uint8_t* out[1] = {reinterpret_cast<uint8_t*>(pcm.data() + at)};
  int n = swr_convert(swr, out, room + 16, f ? const_cast<const uint8_t**>(f->extended_data) : nullptr, inSamples);
  (void)rate;
  if (n < 0) {
    pcm.resize(at);
    return false;
  }
  pcm.resize(at + static_cast<size_t>(n));
  return true;
}

}  // namespace

bool decodeMedia(const std::string& path, const uint8_t* data, size_t len, int rate, std::vector<int16_t>& pcm,
                 int64_t& durationMs, std::string& err) {
  Demux d;
  MemSource mem{data, len, 0};
  d.fmt = avformat_alloc_context();
  if (!d.fmt) {
    err = "out of memory";
    return false;
  }
  if (data) {
    auto* buf = static_cast<uint8_t*>(av_malloc(4096));
    d.avio = buf ? avio_alloc_context(buf, 4096, 0, &mem, memRead, nullptr, memSeek) : nullptr;
    if (!d.avio) {
      av_free(buf);
      err = "out of memory";
      return false;
    }
    d.fmt->pb = d.avio;
  }
  int r = avformat_open_input(&d.fmt, data ? nullptr : path.c_str(), nullptr, nullptr);
  if (r < 0) {
    // avformat_open_input frees the context on failure.
    d.fmt = nullptr;
    err = "cannot open media: " + avError(r);
    return false;
  }
  r = avformat_find_stream_info(d.fmt, nullptr);
  if (r < 0) {
    err = "cannot read media: " + avError(r);
    return false;
  }
  const AVCodec* codec = nullptr;
  int si = av_find_best_stream(d.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (si < 0 || !codec) {
    err = "no decodable audio stream in the media";
    return false;
  }
  AVStream* st = d.fmt->streams[si];
  d.dec = avcodec_alloc_context3(codec);
  if (!d.dec || avcodec_parameters_to_context(d.dec, st->codecpar) < 0 || (r = avcodec_open2(d.dec, codec, nullptr)) < 0) {
    err = std::string("cannot open the ") + codec->name + " decoder";
    return false;
  }
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  AVChannelLayout inLayout;
  if (d.dec->ch_layout.nb_channels > 0) {
    av_channel_layout_copy(&inLayout, &d.dec->ch_layout);
  } else {
    av_channel_layout_default(&inLayout, 1);
  }
  // One conversion for format, channels and rate together.
  r = swr_alloc_set_opts2(&d.swr, &mono, AV_SAMPLE_FMT_S16, rate, &inLayout, d.dec->sample_fmt, d.dec->sample_rate, 0,
                          nullptr);
  av_channel_layout_uninit(&inLayout);
  if (r < 0 || swr_init(d.swr) < 0) {
    err = "cannot convert the media's audio format";
    return false;
  }
  d.pkt = av_packet_alloc();
  d.frame = av_frame_alloc();
  if (!d.pkt || !d.frame) {
    err = "out of memory";
    return false;
  }
  pcm.clear();
  auto drain = [&]() -> bool {
    for (;;) {
      int q = avcodec_receive_frame(d.dec, d.frame);
      if (q == AVERROR(EAGAIN) || q == AVERROR_EOF) return true;
      if (q < 0) return false;
      bool ok = convert(d.swr, d.frame, rate, pcm);
      av_frame_unref(d.frame);
      if (!ok) return false;
    }
  };
  while ((r = av_read_frame(d.fmt, d.pkt)) >= 0) {
    if (d.pkt->stream_index == si) {
      // A corrupt packet is skipped, as players do; a file of nothing but
      // corrupt packets ends with no audio and is refused below.
      if (avcodec_send_packet(d.dec, d.pkt) >= 0 && !drain()) {
        av_packet_unref(d.pkt);
        err = "audio conversion failed";
        return false;
      }
    }
    av_packet_unref(d.pkt);
  }
  avcodec_send_packet(d.dec, nullptr);
  drain();
  convert(d.swr, nullptr, rate, pcm);
  if (pcm.empty()) {
    err = "the media holds no audio";
    return false;
  }
  durationMs = static_cast<int64_t>(pcm.size()) * 1000 / rate;
  return true;
}

int pcmRateFor(const codec::CodecSpec& out) {
  // The linear input runs at one of the rates of L16 in the codec table.
  static const int kRates[] = {8000, 16000, 32000, 48000};
  int want = out.packetizer == codec::Packetizer::Opus ? 48000 : static_cast<int>(out.sampleRate);
  for (int r : kRates)
    if (r == want) return r;
  return 48000;
}

namespace {

// Collects the Transcoder's output packets into a play list.
class Collector : public codec::RtpSink {
 public:
  explicit Collector(PlayList& l) : list_(l) {}
  void send(const uint8_t* p, size_t len) override {
    if (len < 12 || len - 12 > 0xffff) return;
    uint32_t ts = be32(p + 4);
    if (list_.packets.empty()) first_ = ts;
    PlayPacket pk;
    pk.off = static_cast<uint32_t>(list_.bytes.size());
    pk.len = static_cast<uint16_t>(len - 12);
    pk.pt = p[1] & 0x7f;
    pk.marker = false;
    pk.ts = ts - first_;
    pk.dueMs = static_cast<uint32_t>(static_cast<uint64_t>(pk.ts) * 1000 / list_.clockRate);
    list_.bytes.insert(list_.bytes.end(), p + 12, p + len);
    list_.packets.push_back(pk);
  }

 private:
  PlayList& list_;
  uint32_t first_ = 0;
};

}  // namespace

std::shared_ptr<PlayList> pcmList(const int16_t* pcm, size_t n, int rate) {
  auto list = std::make_shared<PlayList>();
  list->pcm = true;
  list->clockRate = static_cast<uint32_t>(rate);
  const size_t chunk = static_cast<size_t>(rate) / 50;
  const size_t count = chunk ? (n + chunk - 1) / chunk : 0;
  list->bytes.resize(count * chunk * 2);
  list->packets.reserve(count);
  for (size_t k = 0; k < count; k++) {
    PlayPacket pk;
    pk.off = static_cast<uint32_t>(k * chunk * 2);
    pk.len = static_cast<uint16_t>(chunk * 2);
    pk.pt = 96;
    pk.marker = false;
    pk.ts = static_cast<uint32_t>(k * chunk);
    pk.dueMs = static_cast<uint32_t>(k * 20);
    for (size_t i = 0; i < chunk; i++) {
      const size_t at = k * chunk + i;
      putBe16(list->bytes.data() + pk.off + 2 * i, static_cast<uint16_t>(at < n ? pcm[at] : 0));
    }
    list->packets.push_back(pk);
  }
  list->spanTs = static_cast<uint32_t>(count * chunk);
  list->spanMs = static_cast<uint32_t>(count * 20);
  list->durationMs = static_cast<int64_t>(n) * 1000 / rate;
  return list;
}

std::shared_ptr<PlayList> encodePcm(const int16_t* pcm, size_t n, int rate, const codec::CodecSpec& out,
                                    std::string& err) {
  codec::TranscoderSpec ts;
  ts.in.name = "L16";
  ts.in.decoder = "internal:l16";
  ts.in.encoder = "internal:l16";
  ts.in.packetizer = codec::Packetizer::Samples;
  ts.in.clockRate = static_cast<uint32_t>(rate);
  ts.in.sampleRate = static_cast<uint32_t>(rate);
  ts.in.channels = 1;
  ts.in.payloadType = 96;
  ts.out = out;
  ts.ssrc = 1;
  ts.startSeq = 0;
  ts.startTs = 0;
  ts.maxGapMs = 1 << 30;
  std::unique_ptr<codec::Transcoder> tc = codec::Transcoder::create(ts, err);
  if (!tc) return nullptr;
  auto list = std::make_shared<PlayList>();
  list->clockRate = out.clockRate;
  Collector sink(*list);
  // 20 ms of linear audio per input packet; the last one padded with silence
  // to a whole output packet so that the tail of the media is sent too.
  const size_t chunk = static_cast<size_t>(rate) / 50;
  const size_t outChunk = static_cast<size_t>(tc->packetSamples()) * static_cast<size_t>(rate) / static_cast<size_t>(tc->encoderRate());
  size_t total = n;
  if (outChunk > 0 && total % outChunk) total += outChunk - total % outChunk;
  std::vector<uint8_t> pkt(12 + chunk * 2);
  uint32_t inTs = 0;
  uint16_t seq = 0;
  for (size_t at = 0; at < total + chunk; at += chunk) {
    // One extra chunk of silence pushes the resampler's delay out.
    size_t m = chunk;
    uint8_t* h = pkt.data();
    h[0] = 0x80;
    h[1] = 96;
    putBe16(h + 2, seq++);
    putBe32(h + 4, inTs);
    putBe32(h + 8, 1);
    for (size_t i = 0; i < m; i++) {
      int16_t s = at + i < n ? pcm[at + i] : 0;
      putBe16(h + 12 + 2 * i, static_cast<uint16_t>(s));
    }
    tc->input(h, 12 + m * 2, static_cast<int64_t>(inTs) * 1000 / rate, sink);
    inTs += static_cast<uint32_t>(m);
  }
  // Only the packets that carry the media (the padding packet's worth dropped).
  const uint32_t step = static_cast<uint32_t>(static_cast<uint64_t>(tc->packetSamples()) * out.clockRate / tc->encoderRate());
  const size_t want = step ? (static_cast<uint64_t>(total) * out.clockRate / rate + step - 1) / step : list->packets.size();
  if (list->packets.size() > want) {
    list->bytes.resize(list->packets[want].off);
    list->packets.resize(want);
  }
  if (list->packets.empty()) {
    err = "no audio was encoded";
    return nullptr;
  }
  list->spanTs = static_cast<uint32_t>(list->packets.size()) * step;
  list->spanMs = static_cast<uint32_t>(static_cast<uint64_t>(list->spanTs) * 1000 / out.clockRate);
  list->durationMs = static_cast<int64_t>(n) * 1000 / rate;
  return list;
}

std::shared_ptr<PlayList> dtmfEvent(int event, int durationMs, int volume, int pauseMs, uint8_t pt,
                                    uint32_t clockRate, int ptimeMs) {
  auto list = std::make_shared<PlayList>();
  list->clockRate = clockRate;
  const uint32_t total = static_cast<uint32_t>(static_cast<uint64_t>(durationMs) * clockRate / 1000);
  const uint32_t step = static_cast<uint32_t>(static_cast<uint64_t>(ptimeMs) * clockRate / 1000);
  auto add = [&](uint32_t dur, bool end, uint32_t dueMs, bool marker) {
    PlayPacket pk;
    pk.off = static_cast<uint32_t>(list->bytes.size());
    pk.len = 4;
    pk.pt = pt;
    pk.marker = marker;
    pk.ts = 0;  // every packet of one event carries its start timestamp
    pk.dueMs = dueMs;
    uint8_t b[4] = {static_cast<uint8_t>(event), static_cast<uint8_t>((end ? 0x80 : 0) | (volume & 0x3f)),
                    static_cast<uint8_t>(dur >> 8), static_cast<uint8_t>(dur)};
    list->bytes.insert(list->bytes.end(), b, b + 4);
    list->packets.push_back(pk);
  };
  // Packets while the tone lasts, each saying how long it has lasted so far;
  // then the final duration three times with the end bit (RFC 4733 2.5.1.4).
  uint32_t dur = step;
  uint32_t due = 0;
  for (; dur < total; dur += step, due += static_cast<uint32_t>(ptimeMs)) add(dur, false, due, due == 0);
  for (int i = 0; i < 3; i++) add(std::min<uint32_t>(total, 0xffff), true, due, due == 0 && i == 0);
  list->spanTs = total + static_cast<uint32_t>(static_cast<uint64_t>(pauseMs) * clockRate / 1000);
  list->spanMs = static_cast<uint32_t>(durationMs + pauseMs);
  list->durationMs = durationMs;
  return list;
}

bool dtmfTone(int event, int durationMs, int volume, int pauseMs, int rate, std::vector<int16_t>& pcm,
              std::string& err) {
  const size_t tone = static_cast<size_t>(rate) * static_cast<size_t>(durationMs) / 1000;
  const size_t n = tone + static_cast<size_t>(rate) * static_cast<size_t>(pauseMs) / 1000;
  codec::DtmfGenerator gen;
  if (!gen.init(rate, static_cast<int>(std::max<size_t>(tone, 1)), err)) return false;
  if (!gen.start(event, volume, durationMs)) {
    err = "no tone for DTMF event " + std::to_string(event);
    return false;
  }
  pcm.assign(n, 0);  // the pause after the tone stays silent
  if (tone > 0) gen.generate(pcm.data(), static_cast<int>(tone));
  return true;
}

}  // namespace player
}  // namespace rtpe
