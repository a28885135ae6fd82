// A codec route: see route.h.
#include "route.h"

#include <climits>

namespace rtpe {
namespace codec {

bool operator==(const CodecSpec& a, const CodecSpec& b) {
  return a.name == b.name && a.decoder == b.decoder && a.encoder == b.encoder && a.packetizer == b.packetizer &&
         a.clockRate == b.clockRate && a.sampleRate == b.sampleRate && a.channels == b.channels &&
         a.payloadType == b.payloadType && a.ptime == b.ptime && a.frameMs == b.frameMs && a.bitrate == b.bitrate &&
         a.fmtp == b.fmtp && a.complexity == b.complexity;
}

bool operator==(const RouteSpec& a, const RouteSpec& b) {
  if (a.transcode.size() != b.transcode.size() || a.passthrough.size() != b.passthrough.size()) return false;
  for (size_t i = 0; i < a.transcode.size(); i++)
    if (!(a.transcode[i] == b.transcode[i])) return false;
  for (size_t i = 0; i < a.passthrough.size(); i++)
    if (a.passthrough[i].pt != b.passthrough[i].pt || a.passthrough[i].outPt != b.passthrough[i].outPt) return false;
  return a.hasOut == b.hasOut && (!a.hasOut || a.out == b.out) && a.inCnPt == b.inCnPt && a.outCnPt == b.outCnPt &&
         a.silenceDbov == b.silenceDbov && a.dtxDelayMs == b.dtxDelayMs && a.maxDtxMs == b.maxDtxMs &&
         a.events == b.events && a.outEventPt == b.outEventPt && a.outEventClock == b.outEventClock &&
         a.suppressDtmf == b.suppressDtmf && a.dtx == b.dtx;
}

bool operator==(const EventPt& a, const EventPt& b) {
  return a.pt == b.pt && a.outPt == b.outPt && a.clockRate == b.clockRate && a.outClockRate == b.outClockRate;
}

std::shared_ptr<CodecRoute> CodecRoute::create(const RouteSpec& spec, std::string& err) {
  std::shared_ptr<CodecRoute> r(new CodecRoute());
  r->spec_ = spec;
  for (int16_t& e : r->byPt_) e = kDrop;
  if (!spec.transcode.empty() && !spec.hasOut) {
    err = "a codec route that transcodes needs an output codec";
    return nullptr;
  }
  bool tones = false;
  for (const EventPt& ev : spec.events) {
    if (ev.pt > 127 || ev.outPt > 127 || ev.clockRate == 0 || (ev.outPt >= 0 && ev.outClockRate == 0)) {
      err = "telephone-event payload type " + std::to_string(ev.pt) + " has an invalid mapping";
      return nullptr;
    }
    if (ev.outPt < 0) tones = true;
  }
  if (tones && spec.transcode.empty()) {
    err = "telephone-event played as tones needs a transcoded audio codec";
    return nullptr;
  }
  if (spec.transcode.size() > 127) {
    err = "too many transcoded payload types";
    return nullptr;
  }
  for (size_t i = 0; i < spec.transcode.size(); i++) {
    const CodecSpec& in = spec.transcode[i];
    if (in.payloadType > 127 || r->byPt_[in.payloadType] != kDrop) {
      err = "payload type " + std::to_string(in.payloadType) + " (" + in.name + ") is routed twice";
      return nullptr;
    }
    TranscoderSpec ts;
    ts.in = in;
    ts.out = spec.out;
    ts.inCnPt = spec.inCnPt;
    ts.outCnPt = spec.outCnPt;
    ts.silenceDbov = spec.silenceDbov;
    ts.dtxDelayMs = spec.dtxDelayMs;
    ts.maxDtxMs = spec.maxDtxMs;
    ts.outEventPt = spec.outEventPt;
    ts.outEventClock = spec.outEventClock;
    ts.suppressDtmf = spec.suppressDtmf;
    ts.tones = tones;
    ts.dtx = spec.dtx;
    std::string why;
    std::unique_ptr<Transcoder> t = Transcoder::create(ts, why);
    if (!t) {
      err = "cannot transcode " + in.name + " to " + spec.out.name + ": " + why;
      return nullptr;
    }
    r->transcoders_.push_back(std::move(t));
    r->byPt_[in.payloadType] = static_cast<int16_t>(i);
  }
  r->published_.resize(r->transcoders_.size());
  for (const PassthroughPt& p : spec.passthrough) {
    if (p.pt > 127 || p.outPt > 127 || r->byPt_[p.pt] != kDrop) {
      err = "passthrough payload type " + std::to_string(p.pt) + " is invalid or routed twice";
      return nullptr;
    }
    r->byPt_[p.pt] = static_cast<int16_t>(kPass | p.outPt);
  }
  for (size_t i = 0; i < spec.events.size(); i++) {
    const EventPt& ev = spec.events[i];
    if (r->byPt_[ev.pt] != kDrop) {
      err = "telephone-event payload type " + std::to_string(ev.pt) + " is routed twice";
      return nullptr;
    }
    r->byPt_[ev.pt] = static_cast<int16_t>(kEvent | i);
  }
  // CN goes to the current input codec's Transcoder unless it is passed
  // through as it is (both peers take it).
  if (spec.inCnPt >= 0 && spec.inCnPt <= 127 && !r->transcoders_.empty() && r->byPt_[spec.inCnPt] == kDrop)
    r->byPt_[spec.inCnPt] = kCn;
  return r;
}

CodecRoute::~CodecRoute() = default;

void CodecRoute::publish(size_t i, RouteCounters& changed) {
  const TranscoderStats& s = transcoders_[i]->stats();
  RouteCounters& p = published_[i];
  changed.framesDecoded += s.framesDecoded - p.framesDecoded;
  changed.framesEncoded += s.framesEncoded - p.framesEncoded;
  changed.errors += s.errors - p.errors;
  changed.dropped += s.dropped - p.dropped;
  p.framesDecoded = s.framesDecoded;
  p.framesEncoded = s.framesEncoded;
  p.errors = s.errors;
  p.dropped = s.dropped;
  if (transcoders_[i]->takeDigit(changed.digit)) changed.digitEnded = true;
}

uint32_t CodecRoute::continuation(uint32_t ts, RouteOutput& out) {
  if (cur_ >= 0 && transcoders_[cur_]->started()) return transcoders_[cur_]->nextTs();
  if (havePassOffset_) return ts + passOffset_;
  if (out.haveTs) {
    out.haveTs = false;
    return out.nextTs;
  }
  return ts;  // a new output stream: the input's timeline
}

uint32_t CodecRoute::passTs(uint8_t pt, uint32_t ts, RouteOutput& out) {
  if (pt == lastPassPt_ && ts == lastPassInTs_) return lastPassOutTs_;
  uint32_t o;
  if (cur_ >= 0 && transcoders_[cur_]->started()) {
    o = transcoders_[cur_]->outputTsOf(ts);
  } else {
    if (!havePassOffset_) {
      havePassOffset_ = true;
      passOffset_ = out.haveTs ? out.nextTs - ts : 0;
      out.haveTs = false;
    }
    o = ts + passOffset_;
  }
  lastPassPt_ = pt;
  lastPassInTs_ = ts;
  lastPassOutTs_ = o;
  return o;
}

CodecRoute::Verdict CodecRoute::input(uint8_t* pkt, uint32_t len, int64_t nowMs, RouteOutput& out, RtpSink& sink,
                                      RouteCounters& changed) {
  const uint8_t pt = pkt[1] & 0x7f;
  const int16_t e = byPt_[pt];
  if (e == kDrop) return Verdict::Drop;
  const uint32_t ts = be32(pkt + 4);
  if (!out.started) {
    out.started = true;
    out.ssrc = be32(pkt + 8);
    out.seq = be16(pkt + 2);
  }
  if (e & kEvent) return event(spec_.events[e & 0xff], pkt, len, nowMs, out, sink, changed);
  if (e & kPass) {
    pkt[1] = static_cast<uint8_t>((pkt[1] & 0x80) | (e & 0x7f));
    putBe32(pkt + 4, passTs(pt, ts, out));
    out.stamp(pkt);
    passedSinceInput_ = true;
    return Verdict::Forward;
  }
  const int i = e == kCn ? (cur_ >= 0 ? cur_ : 0) : e;
  if (inEvent(ts)) return Verdict::Consumed;  // the event stands in for this audio
  Transcoder& t = enter(i, ts, out);
  t.input(pkt, len, nowMs, sink);
  publish(static_cast<size_t>(i), changed);
  return Verdict::Consumed;
}

Transcoder& CodecRoute::enter(int i, uint32_t ts, RouteOutput& out) {
  Transcoder& t = *transcoders_[i];
  if (i != cur_) {
    // The first packet of this route, or the input changed codec: this
    // Transcoder continues the output stream.
    t.continueOutput(out.ssrc, out.seq, continuation(ts, out));
    cur_ = i;
  } else if (passedSinceInput_ && !t.buffered() && t.started() &&
             static_cast<int32_t>(ts - t.expectedInputTs()) > 0) {
    // The input comes back after passthrough packets stood in for it (a
    // shared codec, or audio suppressed during a telephone event): continue
    // on the timeline those packets used instead of filling the gap again.
    // (Not with a DTX buffer: its packets are decoded later, on its own
    // timer, so the decoder lags the input and its timeline stays as it is.)
    t.continueOutput(out.ssrc, out.seq, t.outputTsOf(ts));
  }
  passedSinceInput_ = false;
  return t;
}

bool CodecRoute::inEvent(uint32_t ts) {
  if (!evOn_ || (!evTone_ && !spec_.suppressDtmf)) return false;
  // An event whose end never came is forgotten once the audio is 10 s away
  // from it (a new timeline, or a lost end).
  const uint32_t clock = transcoders_[cur_ >= 0 ? cur_ : 0]->spec().in.clockRate;
  const int64_t d = static_cast<int32_t>(ts - evTs_);
  if ((d < 0 ? -d : d) > static_cast<int64_t>(clock) * 10) {
    evOn_ = false;
    return false;
  }
  return true;
}

CodecRoute::Verdict CodecRoute::event(const EventPt& ev, uint8_t* pkt, uint32_t len, int64_t nowMs,
                                      RouteOutput& out, RtpSink& sink, RouteCounters& changed) {
  uint32_t off, stop;
  if (!rtpPayload(pkt, len, off, stop) || stop - off < 4) {
    changed.errors++;  // not an RFC 4733 payload
    return Verdict::Consumed;
  }
  uint8_t* p = pkt + off;
  const uint32_t ts = be32(pkt + 4);
  const bool end = (p[1] & 0x80) != 0;
  const uint32_t duration = be16(p + 2);
  if (!(evEnded_ && ts == evEndedTs_)) {
    evOn_ = !end;
    evTone_ = ev.outPt < 0;
    evTs_ = ts;
    if (end) {
      evEnded_ = true;
      evEndedTs_ = ts;
    }
  }
  if (ev.outPt >= 0) {
    if (ev.clockRate != ev.outClockRate) {
      const uint64_t d = static_cast<uint64_t>(duration) * ev.outClockRate / ev.clockRate;
      putBe16(p + 2, static_cast<uint16_t>(d > 0xffff ? 0xffff : d));
    }
    pkt[1] = static_cast<uint8_t>((pkt[1] & 0x80) | ev.outPt);
    putBe32(pkt + 4, passTs(ev.pt, ts, out));
    out.stamp(pkt);
    passedSinceInput_ = true;
    return Verdict::Forward;
  }
  const int i = cur_ >= 0 ? cur_ : 0;
  Transcoder& t = enter(i, ts, out);
  const uint32_t clock = t.spec().in.clockRate;
  t.inputEvent(be32(pkt + 8), be16(pkt + 2), ts, p[0], p[1] & 0x3f,
               static_cast<uint32_t>(static_cast<uint64_t>(duration) * clock / ev.clockRate), end, nowMs, sink);
  publish(static_cast<size_t>(i), changed);
  return Verdict::Consumed;
}

int64_t CodecRoute::tick(int64_t nowMs, RtpSink& sink, RouteCounters& changed) {
  // While passthrough packets stand in for the input codec, its comfort
  // noise would only duplicate their time.
  // A DTX buffer keeps its own timer running.
  if (cur_ < 0 || (passedSinceInput_ && !transcoders_[cur_]->buffered())) return INT64_MAX;
  Transcoder& t = *transcoders_[cur_];
  t.tick(nowMs, sink);
  publish(static_cast<size_t>(cur_), changed);
  return t.nextDueMs();
}

void CodecRoute::takeOver(const CodecRoute& prev, RouteOutput& out) {
  if (prev.cur_ >= 0 && prev.transcoders_[prev.cur_]->started()) {
    out.haveTs = true;
    out.nextTs = prev.transcoders_[prev.cur_]->nextTs();
  } else if (prev.havePassOffset_) {
    havePassOffset_ = true;
    passOffset_ = prev.passOffset_;
  }
}

}  // namespace codec
}  // namespace rtpe
