// The packet path: see relay.h.
#include "relay.h"

#include "rtcp.h"
#include "stun.h"

#include <algorithm>
#include <cerrno>
#include <climits>
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

Relay::Relay(std::vector<Event>& events) : buf_(new Buffers), now_(PacketTime::now()), events_(events) {
  Buffers& b = *buf_;
  std::memset(b.msgs, 0, sizeof(b.msgs));
  std::memset(b.sendMsgs, 0, sizeof(b.sendMsgs));
  for (unsigned i = 0; i < kSlots; i++) {
    b.slots[i].base = b.data[i];
    b.slots[i].next = kNone;
  }
  // The first kBatch slots are the receive set; the others are free.
  for (unsigned i = 0; i < kBatch; i++) {
    b.recvSlot[i] = static_cast<uint16_t>(i);
    b.iov[i].iov_base = b.data[i] + kHeadroom;
    b.iov[i].iov_len = kMaxPacket;
    msghdr& h = b.msgs[i].msg_hdr;
    h.msg_iov = &b.iov[i];
    h.msg_iovlen = 1;
    h.msg_name = &b.src[i].u;
  }
  for (unsigned i = kBatch; i < kSlots; i++) b.freeList[nFree_++] = static_cast<uint16_t>(i);
  for (unsigned i = 0; i < kSlots; i++) {
    b.sendMsgs[i].msg_hdr.msg_iov = &b.sendIov[i];
    b.sendMsgs[i].msg_hdr.msg_iovlen = 1;
  }
  dirty_.reserve(kSlots);
  ticking_.reserve(1024);
}

void Relay::onReadable(Socket& sock) {
  Buffers& b = *buf_;
  // Reported again right after the previous iteration read it: it has a backlog.
  if (sock.lastRound + 1 == round_) sock.burst = kBatch;
  sock.lastRound = round_;
  for (unsigned got = 0; got < kBudget;) {
    // Every packet queued holds a slot until flush(): make sure the next batch
    // can be replaced in full.
    if (nFree_ < kBatch) flush();
    unsigned want = sock.burst;
    for (unsigned i = 0; i < want; i++) {
      b.msgs[i].msg_hdr.msg_namelen = SockAddr::capacity();
      b.msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(sock.fd, b.msgs, want, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      if (err && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) reportSocketError(sock, err);
      return;
    }
    for (int i = 0; i < n; i++) {
      if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        bump(sock.stream->counters.errors);
        continue;
      }
      current_ = static_cast<unsigned>(i);
      queued_ = false;
      handle(sock, b.data[b.recvSlot[i]] + kHeadroom, b.msgs[i].msg_len, b.src[i], now_);
      if (queued_) {
        // The slot now belongs to the send queue: receive into a free one.
        uint16_t s = b.freeList[--nFree_];
        b.recvSlot[i] = s;
        b.iov[i].iov_base = b.data[s] + kHeadroom;
      }
    }
    got += static_cast<unsigned>(n);
    if (static_cast<unsigned>(n) < want) {
      // Drained. One packet or none left in a batch: back to single reads.
      if (n <= 1) sock.burst = 1;
      return;
    }
    // A single read that got its packet: anything left is reported again.
    if (want == 1) return;
  }
}

void Relay::forward(Socket& out, const SockAddr& dst, const uint8_t* data, uint32_t len, Stream& from) {
  Buffers& b = *buf_;
  uint16_t s = b.recvSlot[current_];
  queued_ = enqueue(s, static_cast<uint32_t>(data - b.slots[s].base), len, out, dst, from);
}

namespace {
// A playback that replaces what the stream forwards (not one mixed into its
// audio player).
inline bool replaced(const Stream& a) { return a.player && !a.player->mixes(); }
}  // namespace

void Relay::TxSink::send(const uint8_t* packet, size_t len) { relay_.queueCopy(packet, len, *out_, *dst_, *from_, mixed_); }

void Relay::queueCopy(const uint8_t* data, size_t len, Socket& out, const SockAddr& dst, Stream& from, bool mixed) {
  if (len < 12 || len > kMaxPacket + kTailroom) {
    bump(from.counters.dropped);
    return;
  }
  // Transcoded or mixed audio while a playback replaces it (for the audio
  // player: RFC 4733 DTMF, which takes precedence).
  if (replaced(from)) return;
  // Keep a receive batch's worth of free slots (see onReadable): the
  // packets queued so far go out now, in order, before this one.
  if (nFree_ <= kBatch) flush();
  Buffers& b = *buf_;
  uint16_t s = b.freeList[--nFree_];
  uint8_t* p = b.data[s] + kHeadroom;
  std::memcpy(p, data, len);
  if (mixed) {
    // The audio player numbers its own packets.
    from.timeline.played(be32(p + 8), be16(p + 2), be32(p + 4), now_.monoMs);
  } else {
    from.hot.out.stamp(p);
    from.timeline.forwarded(p, now_.monoMs);
  }
  if (!enqueue(s, kHeadroom, static_cast<uint32_t>(len), out, dst, from)) b.freeList[nFree_++] = s;
}

bool Relay::enqueue(uint16_t s, uint32_t offset, uint32_t len, Socket& out, const SockAddr& dst, Stream& from) {
  Buffers& b = *buf_;
  Slot& slot = b.slots[s];
  // Recordings hold what is sent in the clear.
  if (from.hot.control.bits & MediaControl::kRecordEgress) record(from.hot.control, out.local, dst, slot.base + offset, len);
  Stream& o = *out.stream;
  o.sync();
  if (o.hot.srtp && o.hot.srtp->out) {
    uint8_t* p = slot.base + offset;
    const bool rtcp = len >= 8 && p[1] >= 192 && p[1] <= 223;
    if (offset + len + SrtpContext::kMaxTrailer > kSlot || !o.hot.srtp->out->protect(p, len, rtcp)) {
      bump(from.counters.dropped);
      return false;
    }
  }
  slot.offset = offset;
  slot.len = len;
  slot.next = kNone;
  slot.out = &out;
  slot.from = &from;
  slot.dst = dst;
  if (out.sendHead == kNone) {
    out.sendHead = s;
    dirty_.push_back(&out);
  } else {
    b.slots[out.sendTail].next = s;
  }
  out.sendTail = s;
  return true;
}

bool Relay::admit(const Stream::Hot& h, uint8_t* data, uint32_t len) {
  const MediaControl& c = h.control;
  unsigned pt = data[1] & 0x7f;
  if (h.isEvent(pt)) return !(c.bits & MediaControl::kBlockDtmf);
  if (c.bits & MediaControl::kBlockMedia) return false;
  uint8_t fill = c.silence[pt];
  if (!(c.bits & MediaControl::kSilenceMedia) || !fill) return true;
  uint32_t off, end;
  if (rtpPayload(data, len, off, end)) std::memset(data + off, fill, end - off);
  return true;
}

void Relay::trackDtmf(Stream& a, const uint8_t* data, uint32_t len, const SockAddr& src, int64_t nowMs) {
  const unsigned pt = data[1] & 0x7f;
  DigitEnd d;
  bool ended;
  if (a.hot.isEvent(pt)) {
    uint32_t off, end;
    if (!rtpPayload(data, len, off, end) || end - off < 4) return;  // not an RFC 4733 payload (counted where it is routed)
    uint32_t clock = 8000;
    for (const PtClock& c : a.hot.clockRates)
      if (c.pt == pt && c.clockRate) clock = c.clockRate;
    ended = a.dtmf.onEvent(data + off, end - off, be32(data + 4), clock, nowMs, d);
  } else {
    ended = a.dtmf.onOther(nowMs, d);
  }
  if (ended) reportDigit(a, d, src);
}

void Relay::reportDigit(Stream& a, const DigitEnd& d, const SockAddr& from) {
  Event& e = events_.emplace_back();
  e.type = Event::Type::Dtmf;
  e.id = a.id;
  e.endpoint = from;
  e.digit = d;
}

void Relay::record(const MediaControl& c, const SockAddr& src, const SockAddr& dst, const uint8_t* data,
                   uint32_t len) {
  if (!ring_) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ring_->push(c.recording, static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000, src, dst, data, len);
}

void Relay::flush() {
  Buffers& b = *buf_;
  for (Socket* out : dirty_) {
    StreamCounters& oc = out->stream->counters;
    uint16_t head = out->sendHead;
    if (b.slots[head].next == kNone) {
      // A single packet (the usual case: one packet per stream per 20 ms):
      // sendto costs less than sendmmsg, which copies a message header more.
      Slot& slot = b.slots[head];
      ssize_t r;
      do {
        r = sendto(out->fd, slot.base + slot.offset, slot.len, MSG_DONTWAIT, &slot.dst.u.sa, slot.dst.len());
      } while (r < 0 && errno == EINTR);
      if (r >= 0) {
        bump(oc.packetsOut);
        bump(oc.bytesOut, slot.len);
      } else {
        bump(slot.from->counters.dropped);
      }
      b.freeList[nFree_++] = head;
      out->sendHead = out->sendTail = kNone;
      continue;
    }
    // Gather the socket's queue into consecutive messages.
    unsigned n = 0;
    for (uint16_t s = head; s != kNone; s = b.slots[s].next) {
      Slot& slot = b.slots[s];
      b.sendIov[n].iov_base = slot.base + slot.offset;
      b.sendIov[n].iov_len = slot.len;
      msghdr& h = b.sendMsgs[n].msg_hdr;
      h.msg_name = &slot.dst.u;
      h.msg_namelen = slot.dst.len();
      n++;
    }
    unsigned done = 0;
    uint16_t s = head;
    while (done < n) {
      int r = sendmmsg(out->fd, b.sendMsgs + done, n - done, MSG_DONTWAIT);
      if (r < 0 && errno == EINTR) continue;
      unsigned sent = r > 0 ? static_cast<unsigned>(r) : 0;
      for (unsigned k = 0; k < sent; k++, s = b.slots[s].next) {
        bump(oc.packetsOut);
        bump(oc.bytesOut, b.slots[s].len);
        b.freeList[nFree_++] = s;
      }
      done += sent;
      if (sent == 0) {
        // The message at `done` failed: it is dropped and counted on the
        // stream it came from; the ones after it are still tried (they may
        // go elsewhere).
        bump(b.slots[s].from->counters.dropped);
        b.freeList[nFree_++] = s;
        s = b.slots[s].next;
        done++;
      }
    }
    out->sendHead = out->sendTail = kNone;
  }
  dirty_.clear();
}

void Relay::handle(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src, const PacketTime& t) {
  Stream& a = *sock.stream;
  // Closed, its sockets not yet: as if they were.
  if (a.closed.load(std::memory_order_relaxed)) return;
  StreamCounters& ac = a.counters;
  a.sync();
  // RTP and RTCP both carry version 2 in the top bits of the first byte. An
  // RTCP packet (RFC 5761: second byte 192..223) may be as short as 8 bytes
  // (a receiver report without report blocks); RTP needs its 12-byte header.
  bool rtpLike = len >= 8 && (data[0] >> 6) == 2;
  bool rtcp = rtpLike && data[1] >= 192 && data[1] <= 223;
  const bool wellFormed = rtpLike && (rtcp || len >= 12);
  // From an SRTP peer: decrypted here, so that everything after (learning,
  // codec routes, key presses, recording, the audio player) sees plain RTP.
  // What fails authentication, is replayed or cannot be read is an error.
  if (wellFormed && a.hot.srtp && a.hot.srtp->in && !a.hot.srtp->in->unprotect(data, len, rtcp)) {
    bump(ac.errors);
    return;
  }
  // A recorded stream keeps every datagram it receives, as a capture would.
  if (a.hot.control.bits & MediaControl::kRecordIngress) record(a.hot.control, src, sock.local, data, len);
  if (!wellFormed) {
    if (!handleNonRtp(sock, data, len, src)) bump(ac.errors);
    return;
  }
  bump(ac.packets);
  bump(ac.bytes, len);

  Verdict v = a.hot.learn.onPacket(src, static_cast<int8_t>(sock.index), t.monoMs);
  if (v == Verdict::Drop) {
    // A strict-source refusal is also an error, as the reference counts it.
    bump(ac.dropped);
    bump(ac.errors);
    return;
  }
  ac.lastPacketMs.store(t.unixMs, std::memory_order_relaxed);
  if (v == Verdict::AcceptChanged) reportLearned(a);
  // Per-SSRC figures and RTCP reports (rtcp.h); never drops the packet.
  if (rtcp) rtcp::onRtcp(a, data, len);
  else rtcp::onRtp(a, data, len, t.unixMs);
  // Key presses are reported as received, whether or not they are blocked.
  if (!rtcp && (a.hot.eventPts[0] | a.hot.eventPts[1])) trackDtmf(a, data, len, src, t.monoMs);
  constexpr uint32_t kGate = MediaControl::kBlockMedia | MediaControl::kSilenceMedia | MediaControl::kBlockDtmf;
  if (!rtcp && (a.hot.control.bits & kGate) && !admit(a.hot, data, len)) {
    // Transcoded audio resumes without concealing what was blocked.
    if (a.hot.codecs && !a.hot.isEvent(data[1] & 0x7f)) a.hot.codecs->interrupt();
    bump(ac.dropped);
    return;
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
  if (!rtcp && a.audio) {
    // The audio player mixes it into what the sink's peer receives.
    if (!a.audio->input(data, len, t.monoMs)) bump(ac.dropped);
    return;
  }
  if (!rtcp) {
    // A playback replaces what the stream would forward. Transcoders still
    // get the packets (their output is dropped, see queueCopy), so that they
    // have no gap to conceal when the playback ends.
    if (a.hot.codecs) {
      route(a, data, len, b->sockets[bl.currentSocket], bl.current, t);
      return;
    }
    if (replaced(a)) return;
    a.timeline.forwarded(data, t.monoMs);
  }
  forward(b->sockets[bl.currentSocket], bl.current, data, len, a);
}

void Relay::route(Stream& a, uint8_t* data, uint32_t len, Socket& out, const SockAddr& dst, const PacketTime& t) {
  codec::CodecRoute& r = *a.hot.codecs;
  if (r.transcodes() && !a.ticking) {
    // Its first packet: from now on its Transcoders are ticked. (The list
    // grows beyond its reserve only with the number of transcoding streams.)
    a.ticking = true;
    if (ticking_.empty()) nextTickMs_ = t.monoMs + kTickMs;
    ticking_.push_back(&a);
  }
  tx_.aim(out, dst, a);
  r.blockDtmf(a.hot.control.bits & MediaControl::kBlockDtmf);
  codec::RouteCounters changed;
  codec::CodecRoute::Verdict v = r.input(data, len, t.monoMs, a.hot.out, tx_, changed);
  account(a, changed);
  if (v == codec::CodecRoute::Verdict::Forward) {
    if (replaced(a)) return;
    a.timeline.forwarded(data, t.monoMs);
    forward(out, dst, data, len, a);
  }
  else if (v == codec::CodecRoute::Verdict::Drop) bump(a.counters.dropped);
}

void Relay::account(Stream& a, const codec::RouteCounters& c) {
  StreamCounters& k = a.counters;
  if (c.framesDecoded) bump(k.framesDecoded, c.framesDecoded);
  if (c.framesEncoded) bump(k.framesEncoded, c.framesEncoded);
  if (c.errors) bump(k.transcodeErrors, c.errors);
  if (c.dropped) bump(k.dropped, c.dropped);
  if (c.digitEnded) reportDigit(a, c.digit, a.hot.learn.current);
}

int Relay::msToTick() const {
  if (ticking_.empty() && players_.empty() && mixers_.empty()) return -1;
  int64_t due = INT64_MAX;
  if (!ticking_.empty()) due = nextTickMs_;
  if (!players_.empty()) due = std::min(due, nextPlayMs_);
  if (!mixers_.empty()) due = std::min(due, nextMixMs_);
  int64_t d = due - monotonicMs();
  return d <= 0 ? 0 : static_cast<int>(d);
}

void Relay::tickIfDue() {
  if (ticking_.empty() || now_.monoMs < nextTickMs_) return;
  nextTickMs_ = now_.monoMs + kTickMs;
  for (size_t i = 0; i < ticking_.size();) {
    Stream& a = *ticking_[i];
    a.sync();
    if (a.closed.load(std::memory_order_relaxed) || !a.hot.codecs || !a.hot.codecs->transcodes()) {
      // Back to plain relaying (a later route rejoins with its first packet).
      a.ticking = false;
      ticking_[i] = ticking_.back();
      ticking_.pop_back();
      continue;
    }
    i++;
    Stream* b = a.hot.sink.get();
    if (!b || b->closed.load(std::memory_order_relaxed)) continue;
    b->sync();
    const LearningState& bl = b->hot.learn;
    if (!bl.current.valid() || bl.currentSocket < 0) continue;
    tx_.aim(b->sockets[bl.currentSocket], bl.current, a);
    codec::RouteCounters changed;
    a.hot.codecs->blockDtmf(a.hot.control.bits & MediaControl::kBlockDtmf);
    const int64_t due = a.hot.codecs->tick(now_.monoMs, tx_, changed);
    if (due < nextTickMs_) nextTickMs_ = due;  // a DTX buffer's next step
    account(a, changed);
  }
}

void Relay::setPlayer(Stream& a, std::shared_ptr<player::Player> p, bool queue) {
  if (queue && p && a.player) {
    player::Player* tail = a.player.get();
    while (tail->queued) tail = tail->queued.get();
    tail->queued = std::move(p);
    return;
  }
  for (size_t i = 0; i < players_.size(); i++) {
    if (players_[i] != &a) continue;
    endPlayback(a, i);
    break;
  }
  if (!p) return;
  if (a.audio) a.audio->playbackAttached();
  a.player = std::move(p);
  players_.push_back(&a);
  nextPlayMs_ = 0;  // its first packet is due now
}

void Relay::endPlayback(Stream& a, size_t i) {
  const player::Player* p = a.player.get();
  if (p && p->started && !p->mixes()) {
    // Where the playback's timeline is now: its start plus the time played.
    const uint32_t clock = p->list().clockRate;
    const int64_t played = now_.monoMs > p->startMs ? now_.monoMs - p->startMs : 0;
    a.timeline.playbackEnded(clock, p->baseTs + static_cast<uint32_t>(static_cast<uint64_t>(played) * clock / 1000), now_.monoMs);
  }
  a.player.reset();
  players_[i] = players_.back();
  players_.pop_back();
}

void Relay::playIfDue() {
  if (players_.empty() || now_.monoMs < nextPlayMs_) return;
  const int64_t now = now_.monoMs;
  nextPlayMs_ = INT64_MAX;
  for (size_t i = 0; i < players_.size();) {
    Stream& a = *players_[i];
    player::Player& p = *a.player;
    if (a.closed.load(std::memory_order_relaxed)) {
      endPlayback(a, i);
      continue;
    }
    const player::PlayList& list = p.list();
    if (!p.started) {
      p.started = true;
      p.startMs = now;
      if (!p.mixes()) a.timeline.continueAt(now, list.clockRate, p.ssrc, p.seq, p.baseTs);
    }
    while (!p.done() && p.nextDueMs() <= now) {
      const player::PlayPacket& pk = list.packets[p.next];
      if (p.mixes()) {
        // Into the audio player's mix; without one its time passes unheard.
        if (a.audio) a.audio->play(list.bytes.data() + pk.off, pk.len);
        if (++p.next == list.packets.size()) {
          p.next = 0;
          p.pass++;
        }
        continue;
      }
      const uint32_t ts = p.baseTs + static_cast<uint32_t>(p.pass) * list.spanTs + pk.ts;
      const bool marker = pk.marker || (p.pass == 0 && p.next == 0);
      sendPlayed(a, pk, list.bytes.data() + pk.off, marker, p.seq, ts, p.ssrc);
      a.timeline.played(p.ssrc, p.seq, ts, now);
      p.seq++;
      if (++p.next == list.packets.size()) {
        p.next = 0;
        p.pass++;
      }
    }
    if (p.done() && p.queued) {
      // The queued playback continues the timeline where this one's ends.
      std::shared_ptr<player::Player> n = std::move(p.queued);
      n->started = true;
      n->startMs = p.startMs + static_cast<int64_t>(p.repeat()) * list.spanMs;
      n->ssrc = p.ssrc;
      n->seq = p.seq;
      n->baseTs = p.baseTs + static_cast<uint32_t>(p.repeat()) * list.spanTs;
      a.player = std::move(n);
      continue;  // the same index again: its packets may be due already
    }
    if (p.done()) {
      endPlayback(a, i);
      continue;
    }
    nextPlayMs_ = std::min(nextPlayMs_, p.nextDueMs());
    i++;
  }
}

void Relay::setAudioPlayer(Stream& a, std::shared_ptr<player::AudioPlayer> m) {
  for (size_t i = 0; i < mixers_.size(); i++) {
    if (mixers_[i] != &a) continue;
    detachAudio(a, i);
    break;
  }
  if (!m) return;
  const int64_t now = monotonicMs();
  uint32_t ssrc, ts;
  uint16_t seq;
  a.timeline.continueAt(now, m->outClock(), ssrc, seq, ts);
  m->start(now, ssrc, seq, ts);
  a.audio = std::move(m);
  mixers_.push_back(&a);
  nextMixMs_ = 0;
}

void Relay::detachAudio(Stream& a, size_t i) {
  const player::AudioPlayer* m = a.audio.get();
  // Forwarded packets continue where its output is now.
  if (m && m->started()) a.timeline.playbackEnded(m->outClock(), m->tsAt(now_.monoMs), now_.monoMs);
  // The route's Transcoders saw nothing meanwhile: no gap to conceal.
  a.sync();
  if (a.hot.codecs) a.hot.codecs->interrupt();
  a.audio.reset();
  mixers_[i] = mixers_.back();
  mixers_.pop_back();
}

void Relay::mixIfDue() {
  if (mixers_.empty() || now_.monoMs < nextMixMs_) return;
  const int64_t now = now_.monoMs;
  nextMixMs_ = INT64_MAX;
  for (size_t i = 0; i < mixers_.size();) {
    Stream& a = *mixers_[i];
    player::AudioPlayer& m = *a.audio;
    if (a.closed.load(std::memory_order_relaxed) || (!a.player && m.finished())) {
      detachAudio(a, i);
      continue;
    }
    a.sync();
    Stream* b = a.hot.sink.get();
    bool aimed = false;
    if (b && !b->closed.load(std::memory_order_relaxed)) {
      b->sync();
      const LearningState& bl = b->hot.learn;
      if (bl.current.valid() && bl.currentSocket >= 0) {
        tx_.aim(b->sockets[bl.currentSocket], bl.current, a, true);
        aimed = true;
      }
    }
    // A replacing playback (RFC 4733 DTMF) holds the output; after it the
    // output continues the stream the playback left.
    if (replaced(a)) {
      m.hold();
    } else if (m.held()) {
      uint32_t ssrc, ts;
      uint16_t seq;
      a.timeline.continueAt(now, m.outClock(), ssrc, seq, ts);
      m.resume(ssrc, seq, ts);
    }
    if (aimed) m.tick(now, tx_);
    else m.tick(now, null_);
    nextMixMs_ = std::min(nextMixMs_, m.nextDueMs());
    i++;
  }
}

void Relay::sendPlayed(Stream& a, const player::PlayPacket& pk, const uint8_t* payload, bool marker, uint16_t seq,
                       uint32_t ts, uint32_t ssrc) {
  // The packet goes where a's forwarded packets go; without a known
  // destination its time passes unsent.
  a.sync();
  Stream* b = a.hot.sink.get();
  if (!b || b->closed.load(std::memory_order_relaxed)) return;
  b->sync();
  const LearningState& bl = b->hot.learn;
  if (!bl.current.valid() || bl.currentSocket < 0) return;
  if (12u + pk.len > kMaxPacket) return;
  if (nFree_ <= kBatch) flush();
  Buffers& buf = *buf_;
  uint16_t s = buf.freeList[--nFree_];
  uint8_t* h = buf.data[s] + kHeadroom;
  h[0] = 0x80;
  h[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | (pk.pt & 0x7f));
  putBe16(h + 2, seq);
  putBe32(h + 4, ts);
  putBe32(h + 8, ssrc);
  std::memcpy(h + 12, payload, pk.len);
  if (!enqueue(s, kHeadroom, 12u + pk.len, b->sockets[bl.currentSocket], bl.current, a)) buf.freeList[nFree_++] = s;
}

void Relay::forget(Stream& s) {
  for (size_t i = 0; i < players_.size(); i++) {
    if (players_[i] != &s) continue;
    endPlayback(s, i);
    break;
  }
  for (size_t i = 0; i < mixers_.size(); i++) {
    if (mixers_[i] != &s) continue;
    detachAudio(s, i);
    break;
  }
  if (!s.ticking) return;
  s.ticking = false;
  for (size_t i = 0; i < ticking_.size(); i++) {
    if (ticking_[i] != &s) continue;
    ticking_[i] = ticking_.back();
    ticking_.pop_back();
    return;
  }
}

bool Relay::handleNonRtp(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src) {
  // STUN (first byte 0..3) is answered here (stun.h); DTLS (20..63) will be
  // dispatched from here too.
  if (!stun::looksLikeStun(data, len)) return false;
  Stream& a = *sock.stream;
  a.sync();
  bool nominated = false;
  stun::Outcome o = stun::handle(data, len, sock.fd, src, a.hot.ice, stun::software(), nominated);
  if (o == stun::Outcome::Consumed) return true;
  if (o != stun::Outcome::Success) return false;
  // A successful check tells where the peer is (ice-lite: the peer nominates).
  Verdict v = a.hot.learn.onIceCheck(src, static_cast<int8_t>(sock.index), nominated);
  if (v == Verdict::AcceptChanged) reportLearned(a);
  return true;
}

void Relay::reportLearned(Stream& a) {
  if (!a.publishLearning()) return;
  Event& e = events_.emplace_back();
  e.type = Event::Type::Learned;
  e.id = a.id;
  e.endpoint = a.hot.learn.current;
  e.confirmed = a.hot.learn.confirmed;
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
