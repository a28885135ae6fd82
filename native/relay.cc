// The packet path: see relay.h.
#include "relay.h"

#include <cerrno>
#include <cstring>
#include <ctime>

namespace rtpe {

static int64_t clockMs(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonicMs() { return clockMs(CLOCK_MONOTONIC); }

PacketTime PacketTime::now() { return PacketTime{clockMs(CLOCK_REALTIME), clockMs(CLOCK_MONOTONIC)}; }

Relay::Relay(std::vector<Event>& events) : buf_(new Buffers()), events_(events) {
  std::memset(buf_->msgs, 0, sizeof(buf_->msgs));
  for (unsigned i = 0; i < kBatch; i++) {
    buf_->iov[i].iov_base = buf_->data[i] + kHeadroom;
    buf_->iov[i].iov_len = kMaxPacket;
    msghdr& h = buf_->msgs[i].msg_hdr;
    h.msg_iov = &buf_->iov[i];
    h.msg_iovlen = 1;
    h.msg_name = &buf_->src[i].u;
  }
}

void Relay::onReadable(Socket& sock) {
  Buffers& b = *buf_;
  for (unsigned round = 0; round < kMaxRounds; round++) {
    for (unsigned i = 0; i < kBatch; i++) {
      b.msgs[i].msg_hdr.msg_namelen = SockAddr::capacity();
      b.msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(sock.fd, b.msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) reportSocketError(sock, errno);
      return;
    }
    PacketTime t = PacketTime::now();
    for (int i = 0; i < n; i++) {
      if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        bump(sock.stream->counters.errors);
        continue;
      }
      handle(sock, b.data[i] + kHeadroom, b.msgs[i].msg_len, b.src[i], t);
    }
    if (static_cast<unsigned>(n) < kBatch) return;
  }
}

void Relay::handle(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src, const PacketTime& t) {
  Stream& a = *sock.stream;
  StreamCounters& ac = a.counters;

  // RTP and RTCP both carry version 2 in the top bits of the first byte. An
  // RTCP packet (RFC 5761: second byte 192..223) may be as short as 8 bytes
  // (a receiver report without report blocks); RTP needs its 12-byte header.
  bool rtpLike = len >= 8 && (data[0] >> 6) == 2;
  bool rtcp = rtpLike && data[1] >= 192 && data[1] <= 223;
  if (!rtpLike || (!rtcp && len < 12)) {
    if (!handleNonRtp(sock, data, len, src)) bump(ac.errors);
    return;
  }
  bump(ac.packets);
  bump(ac.bytes, len);

  a.sync();
  Verdict v = a.hot.learn.onPacket(src, static_cast<int8_t>(sock.index), t.monoMs);
  if (v == Verdict::Drop) {
    bump(ac.dropped);
    return;
  }
  ac.lastPacketMs.store(t.unixMs, std::memory_order_relaxed);
  if (v == Verdict::AcceptChanged && a.publishLearning()) {
    Event& e = events_.emplace_back();
    e.type = Event::Type::Learned;
    e.id = a.id;
    e.endpoint = a.hot.learn.current;
    e.confirmed = a.hot.learn.confirmed;
  }

  Stream* b = rtcp && a.hot.rtcpSink ? a.hot.rtcpSink.get() : a.hot.sink.get();
  if (!b || b->closed.load(std::memory_order_relaxed)) {
    bump(ac.dropped);
    return;
  }
  b->sync();
  const LearningState& bl = b->hot.learn;
  if (!bl.current.valid() || bl.currentSocket < 0) {
    bump(ac.dropped);
    return;
  }
  const Socket& out = b->sockets[bl.currentSocket];
  ssize_t r = sendto(out.fd, data, len, MSG_DONTWAIT, &bl.current.u.sa, bl.current.len());
  if (r < 0) {
    bump(ac.dropped);
    return;
  }
  bump(b->counters.packetsOut);
  bump(b->counters.bytesOut, len);
}

bool Relay::handleNonRtp(Socket&, uint8_t*, uint32_t, const SockAddr&) {
  // STUN (first byte 0..3) and DTLS (20..63) will be dispatched from here.
  return false;
}

void Relay::reportSocketError(Socket& sock, int err) {
  Stream& s = *sock.stream;
  bump(s.counters.errors);
  if (s.errorReported) return;
  s.errorReported = true;
  Event& e = events_.emplace_back();
  e.type = Event::Type::Error;
  e.id = s.id;
  e.code = errnoCode(err);
  e.message = std::string("receive failed on port ") + std::to_string(sock.local.port()) + ": " + std::strerror(err);
}

}  // namespace rtpe
