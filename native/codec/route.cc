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
         a.dtx == b.dtx;
}

std::shared_ptr<CodecRoute> CodecRoute::create(const RouteSpec& spec, std::string& err) {
  std::shared_ptr<CodecRoute> r(new CodecRoute());
  r->spec_ = spec;
  for (int16_t& e : r->byPt_) e = kDrop;
  if (!spec.transcode.empty() && !spec.hasOut) {
    err = "a codec route that transcodes needs an output codec";
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
  if (e & kPass) {
    pkt[1] = static_cast<uint8_t>((pkt[1] & 0x80) | (e & 0x7f));
    putBe32(pkt + 4, passTs(pt, ts, out));
    out.stamp(pkt);
    passedSinceInput_ = true;
    return Verdict::Forward;
  }
  const int i = e == kCn ? (cur_ >= 0 ? cur_ : 0) : e;
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
  t.input(pkt, len, nowMs, sink);
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
