// The packet path: receive on a stream's socket, classify, learn, forward or
// transcode.
//
// One Relay per engine thread, with that thread's preallocated packet slots.
// Packets are received with recvmmsg straight into slots (in batches once a
// socket shows a backlog); a packet to forward stays in its slot, queued on
// its outgoing socket, until flush() sends each socket's queue with one system
// call (sendto for a single packet, sendmmsg for more). One reader per socket
// and one queue per socket keep every stream's packet order. Nothing here
// allocates per packet and nothing takes a lock on the forwarding path.
//
// Transcoding. A stream with a codec route (codec/route.h) hands each RTP
// packet to the route instead: a passthrough packet is rewritten in its slot
// and forwarded as above; a transcoded one goes to a Transcoder, whose output
// packets are copied into free slots and queued on the same socket queue, so
// they keep their order among forwarded packets and are counted the same way.
// Streams whose route transcodes join the thread's ticking list when their
// first packet arrives; tickIfDue() lets their Transcoders generate comfort
// noise every kTickMs (sooner when a DTX buffer's timer is due earlier: its
// packets leave on their own 1 ms-precise schedule), and the engine loop wakes
// up for it only while the list is not empty (see msToTick()).
//
// Audio player. A stream with one (Stream::audio, player/audio_player.h)
// hands every RTP packet it receives to it instead of forwarding it; the
// players' output packets are sent by mixIfDue() at their own pace, into
// the same socket queues, and a playback of PCM goes into the player's mix
// (playIfDue()).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "codec/route.h"
#include "event.h"
#include "recorder.h"
#include "socket.h"
#include "stream.h"

namespace rtpe {

// The time of a loop iteration, read once for all the packets it handles.
struct PacketTime {
  int64_t unixMs;
  int64_t monoMs;
  static PacketTime now();
};

// Monotonic milliseconds, the clock of the learning window.
int64_t monotonicMs();

class Relay {
 public:
  // Most packets per recvmmsg call, and a socket's budget per loop iteration
  // in packets (fairness: a busy socket yields to the others; epoll is
  // level-triggered and reports it again on the next iteration).
  static constexpr unsigned kBatch = 32;
  static constexpr unsigned kBudget = 8 * kBatch;
  // Packet slots per engine thread: the receive batch plus the packets queued
  // for sending. The queue is flushed at the end of each loop iteration, or
  // earlier when fewer than kBatch slots are free.
  static constexpr unsigned kSlots = 256;
  // Room before and after each packet in its slot, so that later stages (SRTP,
  // header rewriting) can grow a packet in place.
  static constexpr unsigned kHeadroom = 128;
  static constexpr unsigned kTailroom = 128;
  // Largest packet accepted; longer ones are counted as errors.
  static constexpr unsigned kMaxPacket = 8192;
  // Period of the Transcoders' tick() (comfort noise during DTX).
  static constexpr int64_t kTickMs = 10;

  // events: the engine thread's pending event list, flushed by its loop.
  explicit Relay(std::vector<Event>& events);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The ring recorded packets go to (recorder.h); set before the engine
  // thread starts. Without one, recording bits are ignored.
  void setRecordRing(RecordRing* ring) { ring_ = ring; }

  // Starts a loop iteration: reads the clocks once for all its packets.
  void beginRound() {
    now_ = PacketTime::now();
    round_++;
  }

  // Reads what is pending on sock, at most kBudget packets, and forwards it
  // (queued, see flush). What is left is read on a later iteration.
  //
  // How many packets to ask for per receive adapts per socket (Socket::burst).
  // A recvmmsg for n > 1 packets that finds fewer makes one more receive
  // attempt than needed, which costs about as much as receiving a packet; a
  // media socket mostly holds a single packet when it is reported (one per
  // 20 ms). So a socket is read one packet at a time until it shows a backlog
  // (reported again in the very next iteration, or a full batch), then in
  // batches of kBatch until a receive finds at most one packet.
  // Runs on the engine thread; never blocks.
  void onReadable(Socket& sock);

  // Sends every queued packet: one system call per outgoing socket, in the
  // order the packets were queued. Must run before any stream is retired (the queue
  // points to sockets and streams). Runs on the engine thread; never blocks.
  void flush();

  // Milliseconds until the Transcoders are due a tick or a playback its next
  // packet, -1 when no stream of this thread transcodes or plays (the loop
  // may then sleep until a packet arrives).
  int msToTick() const;
  // Ticks the codec routes of the ticking streams when due (kTickMs after
  // the last time, or a DTX buffer's next step if that is earlier); call
  // after beginRound(), before flush().
  // Runs on the engine thread; never blocks.
  void tickIfDue();
  // Attaches a playback to stream a (null: stops the current one, and what
  // was queued after it); the stream joins the playing list. With queue, p
  // follows the current playback if there is one. Runs on the engine thread.
  void setPlayer(Stream& a, std::shared_ptr<player::Player> p, bool queue);
  // Sends the packets of the playing streams that are due, and detaches the
  // playbacks that are done; call after beginRound(), before flush(). Runs on
  // the engine thread; never blocks, allocates nothing.
  void playIfDue();
  // Engages an audio player on stream a (null: disengages the current one):
  // its output continues the RTP stream a's sink's peer saw, and forwarded
  // packets continue the audio player's when it is disengaged. Runs on the
  // engine thread.
  void setAudioPlayer(Stream& a, std::shared_ptr<player::AudioPlayer> m);
  // Sends the audio players' packets that are due and detaches a transient
  // one whose playbacks are over; call after playIfDue(), before flush().
  // Runs on the engine thread; never blocks, allocates nothing.
  void mixIfDue();
  // Takes a stream that is being closed off the ticking list. Runs on the
  // engine thread, before the stream is retired.
  void forget(Stream& s);

 private:
  // The RtpSink given to codec routes: queues each packet a Transcoder makes
  // on the socket (dst, out) that forwarded packets of `from` use.
  class TxSink : public codec::RtpSink {
   public:
    explicit TxSink(Relay& r) : relay_(r) {}
    // mixed: the packets are an audio player's (already numbered).
    void aim(Socket& out, const SockAddr& dst, Stream& from, bool mixed = false) {
      out_ = &out;
      dst_ = &dst;
      from_ = &from;
      mixed_ = mixed;
    }
    void send(const uint8_t* packet, size_t len) override;

   private:
    Relay& relay_;
    Socket* out_ = nullptr;
    const SockAddr* dst_ = nullptr;
    Stream* from_ = nullptr;
    bool mixed_ = false;
  };
  // Where an audio player's packets go while its stream has no destination:
  // their time passes unsent.
  class NullSink : public codec::RtpSink {
   public:
    void send(const uint8_t*, size_t) override {}
  };

  void handle(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src, const PacketTime& t);
  // Queues the packet being handled (in the current receive slot) for sending
  // out of `out` to dst; from is the stream it arrived on.
  void forward(Socket& out, const SockAddr& dst, const uint8_t* data, uint32_t len, Stream& from);
  // Queues slot s (a packet at offset, len bytes) on out's send queue;
  // records it first if `from` records what it sends,
  // then protects it when out's peer speaks SRTP. Returns false, the slot not
  // queued, when protection fails (counted as dropped on `from`).
  bool enqueue(uint16_t s, uint32_t offset, uint32_t len, Socket& out, const SockAddr& dst, Stream& from);
  // Copies a packet a Transcoder made into a free slot, gives it the route's
  // sequence number and SSRC, and queues it; with mixed, a packet an audio
  // player made (numbered already), which the stream's timeline remembers.
  void queueCopy(const uint8_t* data, size_t len, Socket& out, const SockAddr& dst, Stream& from, bool mixed = false);
  // Takes a's audio player off the mixing list (at index i).
  void detachAudio(Stream& a, size_t i);
  // Hands an RTP packet of a stream with a codec route to the route.
  void route(Stream& a, uint8_t* data, uint32_t len, Socket& out, const SockAddr& dst, const PacketTime& t);
  // Adds the route's counters to the stream's; reports a key press heard in
  // its audio.
  void account(Stream& a, const codec::RouteCounters& c);
  // Follows the key presses a stream receives as RFC 4733 events
  // (dtmf_events.h) and reports each one that ends.
  void trackDtmf(Stream& a, const uint8_t* data, uint32_t len, const SockAddr& src, int64_t nowMs);
  void reportDigit(Stream& a, const DigitEnd& d, const SockAddr& from);
  // Queues one packet of a's playback: the header written into a free slot,
  // the payload copied behind it.
  void sendPlayed(Stream& a, const player::PlayPacket& pk, const uint8_t* payload, bool marker, uint16_t seq,
                  uint32_t ts, uint32_t ssrc);
  // Ends a's playback and takes it off the playing list (at index i).
  void endPlayback(Stream& a, size_t i);
  // Applies block/silence media and block DTMF (Stream::hot.control; the
  // DTMF payload types are the stream's telephone-event types) to an RTP
  // packet: false if it is to be dropped; a silenced payload is overwritten
  // in place.
  static bool admit(const Stream::Hot& h, uint8_t* data, uint32_t len);
  // Copies a packet to the recorder's ring.
  void record(const MediaControl& c, const SockAddr& src, const SockAddr& dst, const uint8_t* data, uint32_t len);
  // Hook for what is neither RTP nor RTCP (STUN, DTLS): returns true if the
  // packet was consumed.
  bool handleNonRtp(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src);
  void reportSocketError(Socket& sock, int err);
  // Publishes a learned endpoint (after Verdict::AcceptChanged) and queues the
  // event, unless a concurrent configure() restarted learning.
  void reportLearned(Stream& a);

  static constexpr unsigned kSlot = kHeadroom + kMaxPacket + kTailroom;
  static constexpr uint16_t kNone = 0xffff;
  // A packet buffer and, while it is queued, where it goes.
  struct Slot {
    uint8_t* base;        // kSlot bytes
    uint32_t offset;      // of the packet in base
    uint32_t len;
    uint16_t next;        // next queued slot of the same outgoing socket
    Socket* out;
    Stream* from;
    SockAddr dst;
  };
  struct Buffers {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    SockAddr src[kBatch];
    uint16_t recvSlot[kBatch];  // the slot each receive message fills
    Slot slots[kSlots];
    uint16_t freeList[kSlots];
    mmsghdr sendMsgs[kSlots];
    iovec sendIov[kSlots];
    alignas(64) uint8_t data[kSlots][kSlot];
  };
  std::unique_ptr<Buffers> buf_;
  unsigned nFree_ = 0;
  // Sockets with queued packets, in the order they got their first one.
  std::vector<Socket*> dirty_;
  // The receive slot of the packet being handled, and whether it was queued.
  unsigned current_ = 0;
  bool queued_ = false;
  PacketTime now_{};
  uint32_t round_ = 1000;  // loop iterations, for Socket::lastRound
  std::vector<Event>& events_;
  RecordRing* ring_ = nullptr;
  TxSink tx_{*this};
  // Streams whose codec route transcodes (Stream::ticking), and when their
  // Transcoders are next due a tick (monotonic ms).
  std::vector<Stream*> ticking_;
  int64_t nextTickMs_ = 0;
  // Streams with a playback (Stream::player), and when the next packet of any
  // of them is due (monotonic ms).
  std::vector<Stream*> players_;
  int64_t nextPlayMs_ = 0;
  // Streams with an audio player (Stream::audio), and when the next packet
  // of any of them is due.
  std::vector<Stream*> mixers_;
  int64_t nextMixMs_ = 0;
  NullSink null_;
};

}  // namespace rtpe
