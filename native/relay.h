// The packet path: receive on a stream's socket, classify, learn, forward.
//
// One Relay per engine thread, with that thread's preallocated receive buffers.
// Nothing here allocates per packet.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "event.h"
#include "socket.h"
#include "stream.h"

namespace rtpe {

// The time of a receive batch, read once per batch.
struct PacketTime {
  int64_t unixMs;
  int64_t monoMs;
  static PacketTime now();
};

// Monotonic milliseconds, the clock of the learning window.
int64_t monotonicMs();

class Relay {
 public:
  // Packets per recvmmsg call, and calls per socket per wake-up (fairness:
  // a busy socket yields to the others; epoll is level-triggered so the rest
  // is read on the next round).
  static constexpr unsigned kBatch = 32;
  static constexpr unsigned kMaxRounds = 8;
  // Room before and after each packet in its slot, so that later stages (SRTP,
  // header rewriting) can grow a packet in place.
  static constexpr unsigned kHeadroom = 128;
  static constexpr unsigned kTailroom = 128;
  // Largest packet accepted; longer ones are counted as errors.
  static constexpr unsigned kMaxPacket = 8192;

  // events: the engine thread's pending event list, flushed by its loop.
  explicit Relay(std::vector<Event>& events);

  // Reads what is pending on sock (bounded by kBatch * kMaxRounds packets) and
  // forwards it. Runs on the engine thread; never blocks.
  void onReadable(Socket& sock);

 private:
  void handle(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src, const PacketTime& t);
  // Hook for what is neither RTP nor RTCP (STUN, DTLS): returns true if the
  // packet was consumed. Nothing is handled yet.
  bool handleNonRtp(Socket& sock, uint8_t* data, uint32_t len, const SockAddr& src);
  void reportSocketError(Socket& sock, int err);

  static constexpr unsigned kSlot = kHeadroom + kMaxPacket + kTailroom;
  struct Buffers {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    SockAddr src[kBatch];
    alignas(64) uint8_t data[kBatch][kSlot];
  };
  std::unique_ptr<Buffers> buf_;
  std::vector<Event>& events_;
};

}  // namespace rtpe
