// A stream: see stream.h.
#include "stream.h"

#include <unistd.h>

namespace rtpe {

Stream::Stream(uint32_t id_, unsigned worker_) : id(id_), worker(worker_) {}

Stream::~Stream() {
  // Normally retire() has closed them already; this only guards against leaks.
  for (Socket& s : sockets) {
    if (s.fd >= 0) close(s.fd);
    s.fd = -1;
  }
}

void Stream::configure(StreamConfig next, int64_t nowMonoMs, int64_t learningDelayMs) {
  // A replaced codec route that the engine thread never picked up is freed
  // here, after unlocking.
  std::shared_ptr<codec::CodecRoute> old;
  std::lock_guard<std::mutex> lock(mu_);
  bool restart = resetEpoch_ == 0 || next.endpoint != cfg_.endpoint || next.learning != cfg_.learning;
  old = std::move(cfg_.codecs);
  cfg_ = std::move(next);
  windowEndMs_ = nowMonoMs + learningDelayMs;
  if (restart) {
    resetEpoch_++;
    pubEndpoint_ = cfg_.endpoint;
    pubLearned_ = false;
    pubConfirmed_ = cfg_.learning == Learning::Off;
  }
  version_.fetch_add(1, std::memory_order_release);
}

int Stream::tos() {
  std::lock_guard<std::mutex> lock(mu_);
  return cfg_.tos;
}

std::shared_ptr<codec::CodecRoute> Stream::codecRoute() {
  std::lock_guard<std::mutex> lock(mu_);
  return cfg_.codecs;
}

void Stream::setControl(const MediaControl& c) {
  std::lock_guard<std::mutex> lock(mu_);
  control_ = c;
  version_.fetch_add(1, std::memory_order_release);
}

bool Stream::setSrtp(const SrtpKey& in, const SrtpKey& out, std::string& err) {
  std::shared_ptr<SrtpPair> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = srtp_;
  }
  const bool none = in.suite == SrtpSuite::None && out.suite == SrtpSuite::None;
  if (old && old->inKey == in && old->outKey == out) return true;
  if (!old && none) return true;
  std::shared_ptr<SrtpPair> next;
  if (!none) {
    // Contexts are made outside the lock (key expansion costs a little).
    next = makeSrtpPair(in, out, old.get(), err);
    if (!next) return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  srtp_ = std::move(next);
  usesSrtp_.store(srtp_ != nullptr, std::memory_order_relaxed);
  version_.fetch_add(1, std::memory_order_release);
  return true;
}

void Stream::snapshot(StreamSnapshot& out) {
  out.kernelPackets = counters.kernelPackets.load(std::memory_order_relaxed);
  out.kernelized = kernel.active.load(std::memory_order_relaxed);
  out.packets = counters.packets.load(std::memory_order_relaxed) + out.kernelPackets;
  out.bytes = counters.bytes.load(std::memory_order_relaxed) + counters.kernelBytes.load(std::memory_order_relaxed);
  out.errors = counters.errors.load(std::memory_order_relaxed);
  out.dropped = counters.dropped.load(std::memory_order_relaxed);
  out.packetsOut = counters.packetsOut.load(std::memory_order_relaxed) +
                   counters.kernelPacketsOut.load(std::memory_order_relaxed);
  out.bytesOut = counters.bytesOut.load(std::memory_order_relaxed) + counters.kernelBytesOut.load(std::memory_order_relaxed);
  out.lastPacketMs = counters.lastPacketMs.load(std::memory_order_relaxed);
  out.haveSsrc = track.haveSsrc.load(std::memory_order_relaxed);
  out.ssrc = track.ssrc.load(std::memory_order_relaxed);
  out.payloadType = track.payloadTypes.most();
  out.framesDecoded = counters.framesDecoded.load(std::memory_order_relaxed);
  out.framesEncoded = counters.framesEncoded.load(std::memory_order_relaxed);
  out.transcodeErrors = counters.transcodeErrors.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  out.transcoded = cfg_.codecs && cfg_.codecs->transcodes();
  out.endpoint = pubEndpoint_;
  out.learned = pubLearned_;
  out.confirmed = pubConfirmed_;
}

void Stream::syncSlow() {
  std::shared_ptr<codec::CodecRoute> retired;
  std::lock_guard<std::mutex> lock(mu_);
  syncLocked(retired);
  // (retired is destroyed after the lock is released: declared first.)
}

bool Stream::syncLocked(std::shared_ptr<codec::CodecRoute>& retired) {
  hot.version = version_.load(std::memory_order_relaxed);
  hot.sink = cfg_.sink;
  hot.rtcpSink = cfg_.rtcpSink;
  if (hot.ice != cfg_.ice) hot.ice = cfg_.ice;
  hot.clockRates = cfg_.clockRates;
  hot.eventPts[0] = hot.eventPts[1] = 0;
  for (const PtClock& c : hot.clockRates)
    if (c.event && c.pt < 128) hot.eventPts[c.pt >> 6] |= uint64_t(1) << (c.pt & 63);
  hot.control = control_;
  if (hot.srtp != srtp_) hot.srtp = srtp_;
  if (hot.codecs != cfg_.codecs) {
    // A new route (a repeated one is the same object and keeps its state)
    // continues the output stream of the previous one. Back to plain
    // relaying, the sender's own numbering goes out again: a later route
    // starts from the input's SSRC and sequence number, as its first does.
    if (hot.codecs && cfg_.codecs) cfg_.codecs->takeOver(*hot.codecs, hot.out);
    if (!cfg_.codecs) hot.out = codec::RouteOutput();
    retired = std::move(hot.codecs);
    hot.codecs = cfg_.codecs;
  }
  LearningState& l = hot.learn;
  l.mode = cfg_.learning;
  l.strictSource = cfg_.strictSource;
  l.mediaHandover = cfg_.mediaHandover;
  if (hot.resetEpoch != resetEpoch_) {
    hot.resetEpoch = resetEpoch_;
    l.reset(cfg_.endpoint, firstSocketFor(cfg_.endpoint.af()), windowEndMs_);
    return true;
  }
  l.windowEndMs = windowEndMs_;
  return false;
}

bool Stream::publishLearning() {
  std::shared_ptr<codec::CodecRoute> retired;
  std::lock_guard<std::mutex> lock(mu_);
  if (version_.load(std::memory_order_relaxed) != hot.version && syncLocked(retired)) return false;
  pubEndpoint_ = hot.learn.current;
  pubLearned_ = hot.learn.learned;
  pubConfirmed_ = hot.learn.confirmed;
  return true;
}

void Stream::retire() {
  for (Socket& s : sockets) {
    if (s.fd >= 0) close(s.fd);
    s.fd = -1;
  }
  closed.store(true, std::memory_order_relaxed);
  std::shared_ptr<Stream> sink, rtcpSink;
  std::shared_ptr<codec::CodecRoute> codecs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sink.swap(cfg_.sink);
    rtcpSink.swap(cfg_.rtcpSink);
    codecs.swap(cfg_.codecs);
  }
  hot.sink.reset();
  hot.rtcpSink.reset();
  hot.codecs.reset();
  std::shared_ptr<Stream> kernelOut;
  {
    // Its flows were removed when it was closed; the sink they sent for is
    // let go of here (breaking a possible cycle).
    std::lock_guard<std::mutex> lock(kernel.mu);
    kernelOut.swap(kernel.out);
  }
  hot.srtp.reset();
  // The references taken out above are dropped here, outside the lock, in case
  // they were the last ones.
}

int8_t Stream::firstSocketFor(int af) const {
  for (size_t i = 0; i < sockets.size(); i++) {
    if (sockets[i].local.af() == af) return static_cast<int8_t>(i);
  }
  return -1;
}

}  // namespace rtpe
