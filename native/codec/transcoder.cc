// The decode -> resample -> re-frame -> encode graph of one direction (see
// transcoder.h).
#include "transcoder.h"

#include "../bytes.h"

#include <time.h>

#include <algorithm>
#include <climits>
#include <cstring>

extern "C" {
#include <spandsp/telephony.h>
#include <spandsp/plc.h>
}

namespace rtpe {
namespace codec {

struct GenericPlc {
  plc_state_t s;
};

namespace {

inline uint64_t monoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint32_t scale(uint64_t v, uint32_t mul, uint32_t div) { return static_cast<uint32_t>(v * mul / div); }

}  // namespace

std::unique_ptr<Transcoder> Transcoder::create(const TranscoderSpec& spec, std::string& err) {
  std::unique_ptr<Transcoder> t(new Transcoder());
  t->spec_ = spec;
  if (!t->build(err)) return nullptr;
  return t;
}

Transcoder::~Transcoder() = default;

bool Transcoder::build(std::string& err) {
  CodecSpec& in = spec_.in;
  CodecSpec& out = spec_.out;
  if (in.decoder.empty()) {
    err = "codec " + in.name + " cannot be decoded";
    return false;
  }
  if (out.encoder.empty()) {
    err = "codec " + out.name + " cannot be encoded";
    return false;
  }
  if (in.packetizer == Packetizer::None || out.packetizer == Packetizer::None) {
    err = "codec without an RTP payload format";
    return false;
  }
  if (in.clockRate == 0 || out.clockRate == 0 || in.sampleRate == 0 || out.sampleRate == 0) {
    err = "clock and sample rates must not be 0";
    return false;
  }
  if (in.channels < 1 || in.channels > 2 || out.channels < 1 || out.channels > 2) {
    err = "only mono and stereo are supported";
    return false;
  }
  if (out.ptime == 0) out.ptime = 20;
  const bool inOpus = in.packetizer == Packetizer::Opus;
  const bool outOpus = out.packetizer == Packetizer::Opus;
  if (outOpus && (out.ptime > 120 || out.ptime % 10 != 0)) {
    err = "opus ptime must be a multiple of 10 ms up to 120 ms";
    return false;
  }

  // Opus runs at the other side's rate when libopus supports it, which saves
  // a resampling stage; its channel count follows fmtp stereo=1 of the side
  // that receives it.
  encChannels_ = outOpus ? (Fmtp(out.fmtp).getInt("stereo", 0) == 1 ? 2 : 1) : out.channels;
  decRate_ = inOpus ? (outOpus ? 48000 : (opusRate(static_cast<int>(out.sampleRate)) ? out.sampleRate : 48000))
                    : static_cast<int>(in.sampleRate);
  decChannels_ = inOpus ? encChannels_ : in.channels;
  encRate_ = outOpus ? (opusRate(decRate_) ? decRate_ : 48000) : static_cast<int>(out.sampleRate);

  packetSamples_ = out.ptime * encRate_ / 1000;
  if (out.packetizer == Packetizer::Amr) out.bitrate = amrBitrate(out, out.bitrate);

  int encFrame = 0;
  if (out.packetizer == Packetizer::Samples)
    encFrame = packetSamples_;
  else if (outOpus)
    // libopus encodes 10, 20, 40, 60, 80, 100 and 120 ms frames; other ptimes
    // are 10 ms frames joined by the repacketizer.
    encFrame = (out.ptime == 10 || (out.ptime % 20 == 0 && out.ptime <= 120) ? out.ptime : 10) * encRate_ / 1000;
  else if (out.frameMs > 0)
    encFrame = out.frameMs * encRate_ / 1000;
  CodecParams ep;
  ep.spec = &out;
  ep.sampleRate = encRate_;
  ep.channels = encChannels_;
  ep.frameSamples = encFrame;
  enc_ = makeEncoder(ep, err);
  if (!enc_) return false;
  if (enc_->frameSamples() <= 0 || packetSamples_ % enc_->frameSamples() != 0) {
    err = "ptime " + std::to_string(out.ptime) + " is not a multiple of the " + out.name + " frame";
    return false;
  }
  framesPerPacket_ = packetSamples_ / enc_->frameSamples();
  tsStep_ = scale(static_cast<uint64_t>(packetSamples_), out.clockRate, static_cast<uint32_t>(encRate_));

  const int ilbcMode = Fmtp(in.fmtp).getInt("mode", 30) == 20 ? 20 : 30;
  ilbcMode_ = ilbcMode;
  CodecParams dp;
  dp.spec = &in;
  dp.sampleRate = decRate_;
  dp.channels = decChannels_;
  dp.mode = ilbcMode;
  dec_ = makeDecoder(dp, err);
  if (!dec_) return false;
  if (in.packetizer == Packetizer::Ilbc) {
    dp.mode = ilbcMode == 20 ? 30 : 20;
    decAlt_ = makeDecoder(dp, err);
    if (!decAlt_) return false;
  }
  decBufSamples_ = std::max(dec_->maxFrameSamples(), 9600);
  decBuf_.reset(new int16_t[static_cast<size_t>(decBufSamples_) * decChannels_]());
  monoBuf_.reset(new int16_t[static_cast<size_t>(decBufSamples_)]());
  lastFrameSamples_ = decRate_ / 50;

  if (!resampler_.open(decRate_, decChannels_, encRate_, encChannels_, decBufSamples_, err)) return false;
  rsBufSamples_ = resampler_.maxOut();
  rsBuf_.reset(new int16_t[static_cast<size_t>(rsBufSamples_) * encChannels_]());
  reframer_.init(rsBufSamples_ + 2 * packetSamples_, encChannels_);
  encBuf_.reset(new uint8_t[kEncBuf]);
  pktBuf_.reset(new uint8_t[kPktBuf]);
  depack_.init(in);
  builder_.init(out);
  if (spec_.outEventPt > 127 || (spec_.outEventPt >= 0 && spec_.outEventClock == 0)) {
    err = "invalid telephone-event output";
    return false;
  }
  // Always ready: block DTMF may ask for it at any time.
  detector_.reset(new DtmfDetector());
  if (!detector_->init(decRate_, decChannels_, decBufSamples_, err)) return false;
  if (spec_.tones) {
    generator_.reset(new DtmfGenerator());
    if (!generator_->init(decRate_, decBufSamples_, err)) return false;
  }
  if (!dec_->hasConcealment() && decRate_ == 8000 && decChannels_ == 1) {
    plc_.reset(new GenericPlc());
    plc_init(&plc_->s);
  }
  if (!spec_.dtx.cnParams.empty()) {
    if (!dtxCn_.update(spec_.dtx.cnParams.data(), spec_.dtx.cnParams.size())) {
      err = "invalid comfort noise parameters";
      return false;
    }
    // The reference fills gaps with libavcodec's comfort noise, which comes
    // out at half the amplitude RFC 3389 defines for the level (-6 dB); the
    // same parameters give the same noise here.
    dtxCn_.scale(0.5);
  }
  if (spec_.dtx.cnPayload.empty() || spec_.dtx.cnPayload.size() > 255) {
    err = "the CN payload must have 1 to 255 bytes";
    return false;
  }
  if (spec_.dtx.buffered) {
    const uint32_t ptime = in.ptime > 0 ? in.ptime : 20;
    dtxb_.init(spec_.dtx, spec_.dtxDelayMs, in.clockRate, ptime * in.clockRate / 1000);
  }
  return true;
}

void Transcoder::start(uint32_t ssrc, uint16_t seq, uint32_t ts) {
  started_ = true;
  inSsrc_ = ssrc;
  expectedSeq_ = seq;
  nextTs_ = ts;
  outSsrc_ = spec_.ssrc >= 0 ? static_cast<uint32_t>(spec_.ssrc) : ssrc;
  outSeq_ = spec_.startSeq >= 0 ? static_cast<uint16_t>(spec_.startSeq) : seq;
  outTs_ = spec_.startTs >= 0 ? static_cast<uint32_t>(spec_.startTs) : ts;
  markerPending_ = true;
}

uint32_t Transcoder::outputTsOf(uint32_t inTs) const {
  const uint32_t partial = scale(static_cast<uint64_t>(reframer_.size()), spec_.out.clockRate, static_cast<uint32_t>(encRate_));
  const int64_t d = static_cast<int32_t>(inTs - nextTs_);
  return outTs_ + partial +
         static_cast<uint32_t>(d * static_cast<int64_t>(spec_.out.clockRate) / static_cast<int64_t>(spec_.in.clockRate));
}

void Transcoder::continueOutput(uint32_t ssrc, uint16_t seq, uint32_t ts) {
  spec_.ssrc = ssrc;
  spec_.startSeq = seq;
  spec_.startTs = ts;
  started_ = false;
  reframer_.clear();
  builder_.clear();
  state_ = InState::Audio;
  filledSinceInputMs_ = 0;
  markerPending_ = true;
  sending_ = -1;
  toneOn_ = false;
}

void Transcoder::resync(int64_t gapClock) {
  stats_.resyncs++;
  int partial = reframer_.size();
  reframer_.clear();
  builder_.clear();
  outTs_ += scale(static_cast<uint64_t>(partial), spec_.out.clockRate, static_cast<uint32_t>(encRate_));
  if (gapClock > 0) outTs_ += scale(static_cast<uint64_t>(gapClock), spec_.out.clockRate, spec_.in.clockRate);
  markerPending_ = true;
  state_ = InState::Audio;
}

int Transcoder::decodeFrame(const FrameRef& f, int16_t* out, int cap) {
  Decoder* d = dec_.get();
  if (decAlt_ && f.mode != 0 && f.mode != ilbcMode_) d = decAlt_.get();
  return d->decode(f.data, f.len, out, cap);
}

bool Transcoder::input(const uint8_t* pkt, size_t len, int64_t nowMs, RtpSink& out) {
  if (len < 12 || (pkt[0] >> 6) != 2) {
    stats_.errors++;
    return true;
  }
  const uint8_t pt = pkt[1] & 0x7f;
  if (pt != spec_.in.payloadType && !(spec_.inCnPt >= 0 && pt == spec_.inCnPt)) return false;
  if (!spec_.dtx.buffered) {
    decodePacket(pkt, len, nowMs, out);
    return true;
  }
  // The DTX buffer: decoded later by tick(), at the input's pace.
  const uint32_t ts = be32(pkt + 4);
  lastArrivalMs_ = nowMs;
  if (!dtxb_.push(pkt, len, ts, nowMs)) syncDtxStats();  // no room: dropped
  return true;
}

void Transcoder::syncDtxStats() {
  const DtxStats& d = dtxb_.stats();
  stats_.dropped += d.discarded - dtxDiscarded_;
  dtxDiscarded_ = d.discarded;
  stats_.dtxGaps = d.gaps;
  stats_.dtxShifts = d.shifts;
}

void Transcoder::decodePacket(const uint8_t* pkt, size_t len, int64_t nowMs, RtpSink& out) {
  const uint64_t t0 = monoNs();
  const uint8_t pt = pkt[1] & 0x7f;
  const bool marker = (pkt[1] & 0x80) != 0;
  const bool isCn = spec_.inCnPt >= 0 && pt == spec_.inCnPt;
  uint32_t hdr, end;
  if (!rtpPayload(pkt, static_cast<uint32_t>(len), hdr, end)) {
    stats_.errors++;
    return;
  }
  const size_t plen = end - hdr;
  const uint16_t seq = be16(pkt + 2);
  const uint32_t ts = be32(pkt + 4);
  const uint32_t ssrc = be32(pkt + 8);
  const uint8_t* payload = pkt + hdr;
  const uint32_t clock = spec_.in.clockRate;
  stats_.packetsIn++;

  if (!started_) {
    start(ssrc, seq, ts);
  } else if (ssrc != inSsrc_ || interrupted_) {
    // A new source, or the same after a deliberate gap: start over, keeping
    // the output stream continuous.
    interrupted_ = false;
    inSsrc_ = ssrc;
    resync(0);
    expectedSeq_ = seq;
    nextTs_ = ts;
  } else {
    const int16_t seqDelta = static_cast<int16_t>(seq - expectedSeq_);
    if (seqDelta < 0) {
      stats_.dropped++;  // late or duplicate: no jitter buffer here
      stats_.nsTotal += monoNs() - t0;
      return;
    }
    const int32_t gap = static_cast<int32_t>(ts - nextTs_);
    if (gap > 0) {
      const int64_t gapMs = static_cast<int64_t>(gap) * 1000 / clock;
      // Filled here at most maxGapMs at once (a burst of packets): during DTX
      // tick() has filled all but the last few packets of the gap already.
      if (gapMs > spec_.maxGapMs) {
        resync(gap);
      } else {
        fill(static_cast<int>(static_cast<int64_t>(gap) * decRate_ / clock), isCn ? nullptr : payload, isCn ? 0 : plen,
             out);
      }
    } else if (gap < 0 && static_cast<int64_t>(-static_cast<int64_t>(gap)) * 1000 / clock > spec_.maxGapMs) {
      resync(0);  // the timestamp went back: a new timeline
    }
    // A small negative gap is audio tick() already generated: accepted as is.
  }
  expectedSeq_ = static_cast<uint16_t>(seq + 1);
  lastInputMs_ = nowMs;
  filledSinceInputMs_ = 0;
  if (marker) markerPending_ = true;

  if (isCn) {
    stats_.cnIn++;
    if (cn_.update(payload, plen))
      state_ = InState::Cn;
    else
      stats_.errors++;
    nextTs_ = ts;
    stats_.nsTotal += monoNs() - t0;
    return;
  }

  FrameRef frames[Depacketizer::kMaxFrames];
  const int n = depack_.split(payload, plen, frames, Depacketizer::kMaxFrames);
  if (n < 0) {
    stats_.errors++;
    nextTs_ = ts;  // the next packet conceals this one's audio
    stats_.nsTotal += monoNs() - t0;
    return;
  }
  int total = 0;
  bool sid = false;  // the packet ends with the codec's SID frame: DTX follows
  const bool sidAsGap = amrCn();
  for (int i = 0; i < n; i++) {
    const uint64_t td = monoNs();
    if (sidAsGap && frames[i].sid) {
      // --amr-dtx=CN: the SID frame is not decoded; its 20 ms and the gap
      // after it get the generic filler.
      const int m = std::min(decRate_ / 50, decBufSamples_);
      total += pushFilled(decBuf_.get(), dtxFill(decBuf_.get(), m), m, m, td, out);
      sid = true;
      continue;
    }
    int m = decodeFrame(frames[i], decBuf_.get(), decBufSamples_);
    if (m < 0) {
      stats_.errors++;
      m = dec_->conceal(lastFrameSamples_, decBuf_.get());
      if (m <= 0 && plc_) m = plc_fillin(&plc_->s, decBuf_.get(), lastFrameSamples_);
      if (m <= 0) {
        m = lastFrameSamples_;
        std::memset(decBuf_.get(), 0, static_cast<size_t>(m) * decChannels_ * sizeof(int16_t));
      }
      stats_.concealedSamples += m;
    } else {
      stats_.framesDecoded++;
      sid = frames[i].sid;
      if (!sid && m > 0) {
        lastFrameSamples_ = std::min(m, decRate_ / 50 * 3);
        if (plc_) plc_rx(&plc_->s, decBuf_.get(), m);
      }
    }
    stats_.nsDecode += monoNs() - td;
    if (m > 0) {
      push(decBuf_.get(), m, out);
      total += m;
    }
  }
  state_ = sid ? (sidAsGap ? InState::Dtx : InState::Sid) : InState::Audio;
  nextTs_ = ts + scale(static_cast<uint64_t>(total), clock, static_cast<uint32_t>(decRate_));
  stats_.nsTotal += monoNs() - t0;
}

void Transcoder::fill(int samples, const uint8_t* fecPayload, size_t fecLen, RtpSink& out) {
  if (samples <= 0) return;
  const int chunk = std::min(decRate_ / 50, decBufSamples_);
  int fecSamples = 0;
  if (state_ == InState::Audio && fecPayload && spec_.in.packetizer == Packetizer::Opus)
    fecSamples = std::min(samples, lastFrameSamples_);
  int remaining = samples - fecSamples;
  int16_t* buf = decBuf_.get();
  while (remaining > 0) {
    const uint64_t td = monoNs();
    const int c = std::min(chunk, remaining);
    int m = 0;
    switch (state_) {
      case InState::Cn:
        cn_.generate(monoBuf_.get(), c);
        for (int i = 0; i < c; i++)
          for (int ch = 0; ch < decChannels_; ch++) buf[i * decChannels_ + ch] = monoBuf_[i];
        m = c;
        break;
      case InState::Sid:
        m = dec_->dtx(c, buf);
        break;
      case InState::Dtx:
        m = dtxFill(buf, c);
        break;
      case InState::Audio:
        m = dec_->conceal(c, buf);
        if (m <= 0 && plc_) m = plc_fillin(&plc_->s, buf, c);
        break;
    }
    remaining -= pushFilled(buf, m, c, remaining, td, out);
  }
  if (fecSamples > 0) {
    const uint64_t td = monoNs();
    int m = dec_->recover(fecPayload, fecLen, fecSamples, buf);
    if (m <= 0) m = dec_->conceal(fecSamples, buf);
    pushFilled(buf, m, fecSamples, fecSamples, td, out);
  }
}

int Transcoder::dtxFill(int16_t* buf, int n) {
  if (!dtxCn_.active()) return 0;  // silence (pushFilled)
  dtxCn_.generate(monoBuf_.get(), n);
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < decChannels_; ch++) buf[i * decChannels_ + ch] = monoBuf_[i];
  return n;
}

int Transcoder::pushFilled(int16_t* buf, int m, int want, int cap, uint64_t since, RtpSink& out) {
  if (m <= 0) {
    m = want;
    std::memset(buf, 0, static_cast<size_t>(m) * decChannels_ * sizeof(int16_t));
  }
  if (m > cap) m = cap;
  stats_.concealedSamples += m;
  stats_.nsDecode += monoNs() - since;
  push(buf, m, out);
  return m;
}

void Transcoder::inputEvent(uint32_t ssrc, uint16_t seq, uint32_t ts, int event, int volume, uint32_t duration,
                            bool end, int64_t nowMs, RtpSink& out) {
  if (!generator_) return;
  const uint64_t t0 = monoNs();
  if (!started_) start(ssrc, seq, ts);
  lastInputMs_ = nowMs;
  filledSinceInputMs_ = 0;
  state_ = InState::Audio;
  if (!toneOn_ || ts != toneTs_) {
    // A new event: the audio up to its start is filled as for any gap.
    const int32_t gap = static_cast<int32_t>(ts - nextTs_);
    if (gap > 0 && static_cast<int64_t>(gap) * 1000 / spec_.in.clockRate <= spec_.maxGapMs)
      fill(static_cast<int>(static_cast<int64_t>(gap) * decRate_ / spec_.in.clockRate), nullptr, 0, out);
    else if (gap > 0)
      resync(gap);
    else if (static_cast<int64_t>(-static_cast<int64_t>(gap)) * 1000 / spec_.in.clockRate > spec_.maxGapMs)
      resync(0);  // a new timeline; a small overlap with audio already played is accepted
    if (!generator_->start(event, volume, 0)) {
      stats_.errors++;
      stats_.nsTotal += monoNs() - t0;
      return;
    }
    toneOn_ = true;
    toneTs_ = ts;
    toneDone_ = 0;
    toneEnded_ = false;
    markerPending_ = true;
    stats_.dtmfPlayed++;
  }
  if (toneEnded_) {
    stats_.nsTotal += monoNs() - t0;
    return;  // a repeated end packet
  }
  if (duration > toneDone_) {
    int remaining = static_cast<int>(static_cast<int64_t>(duration - toneDone_) * decRate_ / spec_.in.clockRate);
    int16_t* buf = decBuf_.get();
    while (remaining > 0) {
      const int c = std::min(remaining, decBufSamples_);
      generator_->generate(monoBuf_.get(), c);
      for (int i = 0; i < c; i++)
        for (int ch = 0; ch < decChannels_; ch++) buf[i * decChannels_ + ch] = monoBuf_[i];
      push(buf, c, out);
      remaining -= c;
    }
    toneDone_ = duration;
  }
  nextTs_ = toneTs_ + toneDone_;
  if (end) {
    toneEnded_ = true;
    generator_->stop();
  }
  stats_.nsTotal += monoNs() - t0;
}

void Transcoder::push(const int16_t* pcm, int n, RtpSink& out) {
  heard_ = spec_.outEventPt >= 0 || blockDtmf_ ? detector_->detect(pcm, n) : -1;
  followDigit(n);
  const int m = resampler_.convert(pcm, n, rsBuf_.get(), rsBufSamples_);
  if (m > 0) {
    if (blockDtmf_ && heard_ >= 0) std::memset(rsBuf_.get(), 0, sizeof(int16_t) * static_cast<size_t>(m) * encChannels_);
    reframer_.push(rsBuf_.get(), m);
  }
  emitPackets(out);
}

void Transcoder::followDigit(int n) {
  if (heard_ != digit_) {
    if (digit_ >= 0) {
      ended_.event = static_cast<uint8_t>(digit_);
      ended_.volume = static_cast<uint8_t>(digitVolume_ & 0x3f);
      ended_.durationMs = static_cast<uint32_t>(digitSamples_ * 1000 / static_cast<uint64_t>(decRate_));
      ended_.inband = true;
      digitEnded_ = true;
    }
    digit_ = heard_;
    digitSamples_ = 0;
    if (digit_ >= 0) digitVolume_ = detector_->volume();
  }
  if (digit_ >= 0) digitSamples_ += static_cast<uint64_t>(n);
}

void Transcoder::emitPackets(RtpSink& out) {
  const int frame = enc_->frameSamples();
  while (reframer_.size() >= packetSamples_) {
    if (spec_.outEventPt >= 0 && dtmfStep(out)) {
      reframer_.pop(packetSamples_);
      outTs_ += tsStep_;
      continue;
    }
    const int16_t* pcm = reframer_.peek();
    if (spec_.outCnPt >= 0 && spec_.silenceDbov >= 0 &&
        CnEncoder::levelOf(pcm, packetSamples_ * encChannels_) >= spec_.silenceDbov) {
      // Silence towards a peer that takes CN: the configured comfort noise
      // payload (--cn-payload) instead of encoded audio; the next audio
      // packet starts a talkspurt.
      const std::vector<uint8_t>& cn = spec_.dtx.cnPayload;
      std::memcpy(pktBuf_.get() + 12, cn.data(), cn.size());
      reframer_.pop(packetSamples_);
      emit(cn.size(), static_cast<uint8_t>(spec_.outCnPt), out);
      stats_.cnOut++;
      markerPending_ = true;
      outTs_ += tsStep_;
      continue;
    }
    const uint64_t te = monoNs();
    for (int f = 0; f < framesPerPacket_; f++) {
      int b = enc_->encode(pcm + static_cast<size_t>(f) * frame * encChannels_, encBuf_.get(), kEncBuf);
      if (b < 0) {
        stats_.errors++;
        continue;
      }
      stats_.framesEncoded++;
      builder_.add(encBuf_.get(), static_cast<size_t>(b));
    }
    stats_.nsEncode += monoNs() - te;
    const int plen = builder_.build(pktBuf_.get() + 12, kPktBuf - 12);
    reframer_.pop(packetSamples_);
    if (plen > 0)
      emit(static_cast<size_t>(plen), spec_.out.payloadType, out);
    else
      markerPending_ = true;  // nothing sent (DTX): the next packet starts a talkspurt
    outTs_ += tsStep_;
  }
}

void Transcoder::emit(size_t len, uint8_t pt, RtpSink& out) {
  const bool cn = spec_.outCnPt >= 0 && pt == spec_.outCnPt;
  send(len, pt, markerPending_ && !cn, outTs_, out);
  if (!cn) markerPending_ = false;
}

void Transcoder::send(size_t len, uint8_t pt, bool marker, uint32_t ts, RtpSink& out) {
  uint8_t* h = pktBuf_.get();
  h[0] = 0x80;
  h[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | (pt & 0x7f));
  putBe16(h + 2, outSeq_);
  putBe32(h + 4, ts);
  putBe32(h + 8, outSsrc_);
  outSeq_++;
  stats_.packetsOut++;
  stats_.bytesOut += 12 + len;
  out.send(h, 12 + len);
}

bool Transcoder::dtmfStep(RtpSink& out) {
  // A blocked digit is not sent (one in progress ends now).
  const int heard = blockDtmf_ ? -1 : heard_;
  if (sending_ >= 0 && heard != sending_) {
    emitEvent(outTs_, true, out);
    sending_ = -1;
    markerPending_ = true;  // the audio after it starts a talkspurt
  }
  if (sending_ < 0 && heard >= 0) {
    sending_ = heard;
    sendingVolume_ = detector_->volume();
    sendingTs_ = outTs_;
    sendingMarker_ = true;
    stats_.dtmfDetected++;
  }
  if (sending_ < 0) return false;
  emitEvent(outTs_ + tsStep_, false, out);
  return spec_.suppressDtmf;
}

void Transcoder::emitEvent(uint32_t endTs, bool end, RtpSink& out) {
  const uint64_t d = static_cast<uint64_t>(endTs - sendingTs_) * spec_.outEventClock / spec_.out.clockRate;
  const uint32_t duration = d > 0xffff ? 0xffff : static_cast<uint32_t>(d);
  for (int i = 0; i < (end ? 3 : 1); i++) {
    uint8_t* p = pktBuf_.get() + 12;
    p[0] = static_cast<uint8_t>(sending_);
    p[1] = static_cast<uint8_t>((end ? 0x80 : 0) | (sendingVolume_ & 0x3f));
    p[2] = static_cast<uint8_t>(duration >> 8);
    p[3] = static_cast<uint8_t>(duration);
    send(4, static_cast<uint8_t>(spec_.outEventPt), sendingMarker_, sendingTs_, out);
    sendingMarker_ = false;
  }
}

int64_t Transcoder::nextDueMs() const {
  return spec_.dtx.buffered && dtxb_.running() ? dtxb_.nextMs() : INT64_MAX;
}

void Transcoder::dtxStep(int64_t nowMs, RtpSink& out) {
  DtxBuffer::Packet p;
  bool skipped;
  if (dtxb_.take(nowMs, p, skipped)) {
    // After discarded packets the output goes on with this one, as if it
    // were the next (as the reference does): their time is not filled.
    if (skipped && started_) nextTs_ = p.ts;
    decodePacket(p.data, p.len, nowMs, out);
    // The timer steps by the input's packet duration.
    if (started_ && state_ != InState::Cn) dtxb_.setStep(nextTs_ - p.ts);
  } else if (!started_ || (spec_.maxDtxMs > 0 && nowMs - lastArrivalMs_ >= spec_.maxDtxMs)) {
    // Nothing decoded yet (nothing to continue), or the input has been gone
    // for --max-dtx: stop until the next packet.
    if (dtxb_.empty()) {
      dtxb_.stop();
      return;
    }
  } else {
    // A gap: one step of filling (the codec's own concealment for AMR
    // unless --amr-dtx=CN, else --dtx-cn-params noise or silence).
    const bool amrNative = spec_.in.packetizer == Packetizer::Amr && !amrCn();
    if (state_ == InState::Audio && !amrNative) state_ = InState::Dtx;
    const uint32_t step = dtxb_.stepTs();
    fill(static_cast<int>(static_cast<uint64_t>(step) * decRate_ / spec_.in.clockRate), nullptr, 0, out);
    nextTs_ += step;
  }
  dtxb_.advance();
}

void Transcoder::tick(int64_t nowMs, RtpSink& out) {
  if (spec_.dtx.buffered) {
    const uint64_t t0 = monoNs();
    for (int guard = 0; dtxb_.running() && dtxb_.nextMs() <= nowMs && guard < 64; guard++) dtxStep(nowMs, out);
    syncDtxStats();
    stats_.nsTotal += monoNs() - t0;
    return;
  }
  if (!started_ || state_ == InState::Audio) return;
  const uint64_t t0 = monoNs();
  const int64_t due = nowMs - lastInputMs_ - spec_.dtxDelayMs;
  const uint32_t step = spec_.in.clockRate / 50;  // 20 ms of input clock
  while (filledSinceInputMs_ + 20 <= due && filledSinceInputMs_ < spec_.maxDtxMs) {
    fill(decRate_ / 50, nullptr, 0, out);
    nextTs_ += step;
    filledSinceInputMs_ += 20;
  }
  stats_.nsTotal += monoNs() - t0;
}

}  // namespace codec
}  // namespace rtpe
