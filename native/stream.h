// A stream: one local UDP port (the RTP or the RTCP port of a media), bound on
// one or more local addresses, with the remote endpoint it talks to and the
// stream its packets are forwarded to.
//
// Ownership and threads. Streams are held by shared_ptr: by the engine's
// registry (JavaScript thread), by the table of the engine thread that polls
// them, and by the streams that forward to them (sinks). Each stream belongs to
// exactly one engine thread; a stream's sinks belong to the same thread, so the
// packet path never reads another thread's state.
//
// State comes in three parts:
// - counters: written only by the owning engine thread, read by anyone
//   (relaxed atomics, single writer);
// - the configuration and the published view (endpoint, learned, confirmed),
//   guarded by a mutex that the engine thread takes only when signalling
//   changed something or when learning changed the endpoint, never per packet;
// - the hot copy (hot): what the packet path reads, owned by the engine thread
//   and refreshed from the configuration when its version changes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "codec/route.h"
#include "dtmf_events.h"
#include "kernel_flows.h"
#include "learning.h"
#include "player/audio_player.h"
#include "player/player.h"
#include "rtcp.h"
#include "socket.h"
#include "srtp.h"
#include "ssrc.h"
#include "stun.h"

namespace rtpe {

class Stream;

// Counters of one stream. Single writer (the owning engine thread).
struct StreamCounters {
  std::atomic<uint64_t> packets{0};     // well-formed RTP/RTCP packets received
  std::atomic<uint64_t> bytes{0};       // their bytes (UDP payload)
  std::atomic<uint64_t> errors{0};      // malformed, truncated or unreadable packets, strict-source refusals
  std::atomic<uint64_t> dropped{0};     // well-formed packets not forwarded
  std::atomic<uint64_t> packetsOut{0};  // packets sent out of this stream's sockets
  std::atomic<uint64_t> bytesOut{0};
  std::atomic<int64_t> lastPacketMs{0};  // unix ms of the last accepted packet, 0 = never
  // Sums over the Transcoders of the stream's codec routes, past ones included.
  std::atomic<uint64_t> framesDecoded{0};
  std::atomic<uint64_t> framesEncoded{0};
  std::atomic<uint64_t> transcodeErrors{0};  // malformed or undecodable payloads
  // What the kernel forwarded for this stream (kernel_flows.h), folded in as
  // deltas by whichever thread reads them: atomic adds, not single-writer.
  std::atomic<uint64_t> kernelPackets{0};     // received and forwarded in the kernel
  std::atomic<uint64_t> kernelBytes{0};
  std::atomic<uint64_t> kernelPacketsOut{0};  // sent out of this stream's sockets by the kernel
  std::atomic<uint64_t> kernelBytesOut{0};
};

// What the in-call control commands (block/silence media, block DTMF, start
// recording) ask of a stream's received packets. Set from JavaScript at any
// time; the packet path reads its hot copy. A stream with any of these bits
// needs the user-space relay: an in-kernel fast path must leave it alone.
struct MediaControl {
  enum Bits : uint32_t {
    kBlockMedia = 1,     // drop RTP other than DTMF events
    kSilenceMedia = 2,   // overwrite the payload of codecs with a silence pattern
    kBlockDtmf = 4,      // drop RTP DTMF events (the payload types in dtmf)
    kRecordIngress = 8,  // copy every received datagram to the recorder
    kRecordEgress = 16,  // copy every packet sent for this stream to the recorder
  };
  // What every packet reads first; the silence table (read only while
  // silencing) comes last, so that these share a cache line.
  uint32_t bits = 0;
  uint32_t recording = 0;   // the recording the copies belong to (recorder.h)
  uint8_t silence[128] = {};  // per payload type: the byte silence repeats, 0 = none
};

// Adds n to a single-writer counter without a locked instruction.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// The configuration signalling gives a stream.
struct StreamConfig {
  SockAddr endpoint;                   // signalled remote endpoint, may be empty
  std::shared_ptr<Stream> sink;        // where received packets go
  std::shared_ptr<Stream> rtcpSink;    // where muxed RTCP goes instead, if set
  Learning learning = Learning::Off;
  bool strictSource = false;
  bool mediaHandover = false;
  int tos = -1;                        // -1 = leave the socket default
  IceCredentials ice;                  // answer STUN checks with these (empty: no ICE)
  std::vector<PtClock> clockRates;     // payload types of the media (RTCP jitter units)
  // How received RTP is transformed before it goes to the sink; null = every
  // packet forwarded unchanged. Created on the JavaScript thread, then used by
  // the engine thread only (see codec/route.h).
  std::shared_ptr<codec::CodecRoute> codecs;
};

// A copy of a stream's figures, for JavaScript.
struct StreamSnapshot {
  uint64_t packets, bytes, errors, dropped, packetsOut, bytesOut;
  int64_t lastPacketMs;
  SockAddr endpoint;
  bool learned, confirmed;
  bool haveSsrc;          // an RTP/RTCP SSRC was seen (ssrc is the latest)
  uint32_t ssrc;
  int payloadType;        // most frequent RTP payload type, -1 if none
  bool transcoded;        // the codec route transcodes at least one payload type
  uint64_t framesDecoded, framesEncoded, transcodeErrors;
  bool kernelized;        // its flows are in the kernel's table
  uint64_t kernelPackets; // of packets, those the kernel forwarded
};

class Stream {
 public:
  Stream(uint32_t id, unsigned worker);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const uint32_t id;
  const unsigned worker;  // index of the owning engine thread

  // Bound sockets; filled once before the stream is handed to its engine
  // thread and never resized after, so their addresses are stable.
  std::vector<Socket> sockets;
  StreamCounters counters;
  // RTP/RTCP figures (rtcp.h) and the call's SSRC table, shared by the
  // streams of one call; the table is set before the stream is handed to
  // its engine thread and never changed.
  MediaTrack track;
  std::shared_ptr<SsrcTable> ssrcTable;
  // Set when the stream is closed (before its sockets are, see worker.h); the
  // packet path drops what arrives on or is addressed to a closed stream.
  std::atomic<bool> closed{false};
  // Set once the first unexpected socket error has been reported.
  bool errorReported = false;
  // In-kernel forwarding of this stream (kernel_flows.h).
  StreamKernel kernel;

  // Replaces the configuration. A changed endpoint or learning mode (or the
  // first call) starts learning over; every call restarts the learning window.
  // Runs on the JavaScript thread; takes the stream lock briefly.
  void configure(StreamConfig next, int64_t nowMonoMs, int64_t learningDelayMs);
  int tos();
  // The codec route of the configuration, to keep it when signalling repeats
  // it. Runs on the JavaScript thread; takes the stream lock briefly.
  std::shared_ptr<codec::CodecRoute> codecRoute();
  // Replaces the media control; the packet path applies it from the next
  // packet on. Runs on the JavaScript thread; takes the stream lock briefly.
  void setControl(const MediaControl& c);
  // Replaces the SRTP keys of the stream (srtp.h); keys equal to the current
  // ones keep their contexts. Null or inactive: plain RTP both ways. Returns
  // false (err set) and changes nothing if libsrtp refuses a key.
  // Runs on the JavaScript thread; takes the stream lock briefly.
  bool setSrtp(const SrtpKey& in, const SrtpKey& out, std::string& err);
  // Whether the stream decrypts what it receives or encrypts what it sends:
  // its packets need the user-space relay (an in-kernel fast path must leave
  // it alone). Runs on any thread.
  bool usesSrtp() const { return usesSrtp_.load(std::memory_order_relaxed); }

  // Runs on any thread; takes the stream lock briefly.
  void snapshot(StreamSnapshot& out);

  // Refreshes the hot copy if the configuration changed.
  // Runs on the engine thread; never blocks for long (the lock is taken only
  // after a configure()).
  void sync() {
    if (version_.load(std::memory_order_acquire) != hot.version) syncSlow();
  }

  // Whether signalling changed the configuration since the last sync().
  // Runs on the engine thread.
  bool changedSinceSync() const { return version_.load(std::memory_order_acquire) != hot.version; }

  // Copies hot.learn to the published view after a Verdict::AcceptChanged.
  // Returns false if a concurrent configure() restarted learning, in which
  // case the packet's result is discarded. Runs on the engine thread.
  bool publishLearning();

  // Closes the sockets and drops the references to other streams (which breaks
  // sink cycles). Idempotent. Runs on the owning engine thread, or on the
  // JavaScript thread once that engine thread has exited.
  void retire();

  // Index of the first socket of address family af, -1 if none.
  int8_t firstSocketFor(int af) const;

  // Engine-thread state read by the packet path.
  // (Ordered so that what every packet reads comes first and together.)
  struct Hot {
    uint32_t version = 0;
    uint32_t resetEpoch = 0;
    uint64_t eventPts[2] = {0, 0};  // bit set of the telephone-event payload types (clockRates)
    std::shared_ptr<Stream> sink;
    std::shared_ptr<Stream> rtcpSink;
    std::shared_ptr<codec::CodecRoute> codecs;
    LearningState learn;
    MediaControl control;
    codec::RouteOutput out;  // the output stream of the codec routes, kept across route changes
    IceCredentials ice;
    std::vector<PtClock> clockRates;
    // SRTP of the stream's peer: `in` unprotects what arrives, `out` protects
    // what the stream's sockets send (srtp.h). Null: plain RTP.
    std::shared_ptr<SrtpPair> srtp;
    bool isEvent(unsigned pt) const { return (eventPts[pt >> 6] >> (pt & 63)) & 1; }
  } hot;
  // Key presses received as RFC 4733 events (dtmf_events.h). Engine thread only.
  DtmfTracker dtmf;
  // In the engine thread's list of streams whose Transcoders it ticks (relay.h).
  bool ticking = false;
  // The playback replacing what this stream forwards, and the RTP stream its
  // sink's peer sees (player/player.h). Engine thread only.
  std::shared_ptr<player::Player> player;
  player::OutputTimeline timeline;
  // The audio player producing what the sink's peer receives (mixing the
  // forwarded audio with played media), or null (player/audio_player.h).
  // Engine thread only.
  std::shared_ptr<player::AudioPlayer> audio;

 private:
  void syncSlow();
  // Returns true if learning was restarted. A codec route the hot copy lets
  // go of is moved to `retired`, for the caller to free after unlocking.
  bool syncLocked(std::shared_ptr<codec::CodecRoute>& retired);

  std::mutex mu_;
  StreamConfig cfg_;
  MediaControl control_;
  std::shared_ptr<SrtpPair> srtp_;
  std::atomic<bool> usesSrtp_{false};
  uint32_t resetEpoch_ = 0;
  int64_t windowEndMs_ = 0;
  SockAddr pubEndpoint_;
  bool pubLearned_ = false;
  bool pubConfirmed_ = true;
  std::atomic<uint32_t> version_{0};
};

}  // namespace rtpe
