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
  std::lock_guard<std::mutex> lock(mu_);
  bool restart = resetEpoch_ == 0 || next.endpoint != cfg_.endpoint || next.learning != cfg_.learning;
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

void Stream::snapshot(StreamSnapshot& out) {
  out.packets = counters.packets.load(std::memory_order_relaxed);
  out.bytes = counters.bytes.load(std::memory_order_relaxed);
  out.errors = counters.errors.load(std::memory_order_relaxed);
  out.dropped = counters.dropped.load(std::memory_order_relaxed);
  out.packetsOut = counters.packetsOut.load(std::memory_order_relaxed);
  out.bytesOut = counters.bytesOut.load(std::memory_order_relaxed);
  out.lastPacketMs = counters.lastPacketMs.load(std::memory_order_relaxed);
  out.haveSsrc = track.haveSsrc.load(std::memory_order_relaxed);
  out.ssrc = track.ssrc.load(std::memory_order_relaxed);
  out.payloadType = track.payloadTypes.most();
  std::lock_guard<std::mutex> lock(mu_);
  out.endpoint = pubEndpoint_;
  out.learned = pubLearned_;
  out.confirmed = pubConfirmed_;
}

void Stream::syncSlow() {
  std::lock_guard<std::mutex> lock(mu_);
  syncLocked();
}

bool Stream::syncLocked() {
  hot.version = version_.load(std::memory_order_relaxed);
  hot.sink = cfg_.sink;
  hot.rtcpSink = cfg_.rtcpSink;
  if (hot.ice != cfg_.ice) hot.ice = cfg_.ice;
  hot.clockRates = cfg_.clockRates;
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
  std::lock_guard<std::mutex> lock(mu_);
  if (version_.load(std::memory_order_relaxed) != hot.version && syncLocked()) return false;
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    sink.swap(cfg_.sink);
    rtcpSink.swap(cfg_.rtcpSink);
  }
  hot.sink.reset();
  hot.rtcpSink.reset();
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
