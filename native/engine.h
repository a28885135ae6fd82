// The media engine: the registry of streams and the engine threads that poll
// them. Independent of N-API (addon.cc is the binding).
//
// Every method runs on the JavaScript thread (one caller at a time); none
// blocks except stop(), which joins the engine threads, and openStream() in the
// rare case where it must wait for a closed stream's port (see worker.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "event.h"
#include "kernel.h"
#include "learning.h"
#include "recorder.h"
#include "ssrc.h"
#include "stream.h"
#include "worker.h"

namespace rtpe {

// The outcome of a request: empty code on success, else a stable code
// ("EADDRINUSE", "ENOENT", "EINVAL", "EENGINE", ...) and a message.
struct Status {
  std::string code;
  std::string message;
  bool ok() const { return code.empty(); }
  static Status error(std::string code, std::string message) { return Status{std::move(code), std::move(message)}; }
};

// One local socket to bind: family 4 or 6, a literal address, a port (0 = any).
struct SocketSpec {
  int family = 0;
  std::string address;
  int port = 0;
};

// A stream's configuration with sinks given by id (0 = none).
struct ConfigSpec {
  SockAddr endpoint;
  uint32_t sink = 0;
  uint32_t rtcpSink = 0;
  Learning learning = Learning::Off;
  bool strictSource = false;
  bool mediaHandover = false;
  int tos = -1;
  IceCredentials ice;
  std::vector<PtClock> clockRates;
  bool hasCodecs = false;  // with a codec route (codecs), else plain relaying
  codec::RouteSpec codecs;
};

class Engine {
 public:
  struct Options {
    unsigned threads = 1;
    int64_t learningDelayMs = 3000;  // the reference's fixed 3 s; shorter in tests
    MosType mos = MosType::CQ;       // --mos
    std::string softwareId;          // SOFTWARE in STUN answers; empty keeps the default
    size_t recordRingBytes = 16u << 20;  // per engine thread, for recorded packets (recorder.h)
  };
  // The most sockets (local addresses) one stream may have.
  static constexpr size_t kMaxSocketsPerStream = 16;

  Engine(Options opts, EventSink sink);
  ~Engine();

  // Starts the engine threads.
  Status start();

  // Binds one socket per spec, all on the same port (a port of 0 on the first
  // spec picks one for all), and hands them to the engine thread chosen by
  // group (group modulo the thread count). Binds nothing on failure. A port
  // still held by a stream closed before is waited for, never refused.
  Status openStream(const std::vector<SocketSpec>& specs, unsigned group, uint32_t& id);

  // Replaces a stream's configuration. Sinks must exist and belong to the same
  // engine thread. A codec route equal to the stream's current one keeps its
  // Transcoders and their state; another one gets new Transcoders, created
  // here (EINVAL naming the codec when one cannot be built; the stream is
  // then left as it was).
  Status configure(uint32_t id, const ConfigSpec& spec);

  // Closes streams: they are gone from the registry and relay nothing from
  // now on; their engine threads close the sockets on their next loop
  // iteration (see worker.h). Unknown ids are ignored (idempotent).
  void closeStreams(const uint32_t* ids, size_t n);

  Status snapshot(uint32_t id, StreamSnapshot& out);

  // Sets what block/silence/DTMF blocking and recording do to a stream's
  // packets, from its next packet on.
  Status setControl(uint32_t id, const MediaControl& c);
  // Sets the SRTP keys of a stream (Stream::setSrtp). Runs on the JavaScript thread.
  Status setSrtp(uint32_t id, const SrtpKey& in, const SrtpKey& out);
  // Call recording (recorder.h): opens the pcap file of recording id (non-zero),
  // closes it once what was queued for it is written, and the packets it
  // holds so far.
  Status openRecording(uint32_t recording, const std::string& path, bool eth);
  void closeRecording(uint32_t recording);
  uint64_t recordedPackets(uint32_t recording);
  uint64_t recordingDrops();

  // Unix ms of the stream's last accepted packet, 0 if none yet: the one
  // figure the once-a-second timeout check needs, without a snapshot.
  Status lastPacket(uint32_t id, int64_t& ms);

  // Hands a playback to a stream's engine thread (null stops the current
  // one): what the stream receives is replaced by it towards its sink; with
  // queue, after the current playback. ENOENT for an unknown stream. Runs on
  // the JavaScript thread; never blocks.
  Status play(uint32_t id, std::shared_ptr<player::Player> p, bool queue);
  // Hands an audio player to a stream's engine thread (null disengages it).
  // ENOENT for an unknown stream. Runs on the JavaScript thread.
  Status setAudioPlayer(uint32_t id, std::shared_ptr<player::AudioPlayer> a);

  // Copies the SSRC table shared by the streams opened with this group (one
  // call); empty if there is none.
  void ssrcStats(unsigned group, std::vector<SsrcSnapshot>& out);

  // Packets, bytes and errors received by every stream so far, closed ones
  // included (monotonic). Sums the live streams: O(streams), no allocation.
  struct Totals {
    uint64_t packets = 0, bytes = 0, errors = 0;
  };
  Totals totals() const;

  // In-kernel forwarding (kernel.h, kernel_flows.h). kernelOpen loads and
  // attaches the forwarder for table on the named interfaces; it returns an
  // empty string, or why the kernel path is unavailable (nothing is left
  // attached then). Opening again once open does nothing.
  std::string kernelOpen(int table, const std::vector<std::string>& ifnames);
  bool kernelIsOpen() const { return kernel_ && kernel_->isOpen(); }
  // Says whether a stream may be forwarded in the kernel; its engine thread
  // decides whether it is (kernel_flows.h). Without an open kernel path the
  // flag is kept and has no effect. ENOENT for an unknown stream.
  Status setKernel(uint32_t id, bool allowed);

  // Stops the threads and closes every stream. Idempotent.
  void stop();
  bool stopped() const { return stopped_; }

 private:
  Status checkUsable(unsigned worker);
  // Waits until the engine threads have retired every stream closed so far;
  // false if none was pending.
  bool settleRemovals();

  // Folds the kernel's counters of a stream into its own (no-op without
  // flows).
  void kernelFold(Stream& s);
  // Removes a stream's flows now, before a change that may need user space
  // applies; its engine thread reinstalls them if they still qualify.
  void kernelPullBack(Stream& s);
  // After a configuration change: pulls the stream back and has its engine
  // thread re-evaluate it and the streams it is the sink of.
  void kernelRecheck(const std::shared_ptr<Stream>& s);

  Options opts_;
  EventSink sink_;
  std::unique_ptr<KernelPath> kernel_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Recorder> recorder_;
  std::unordered_map<uint32_t, std::shared_ptr<Stream>> streams_;
  // The SSRC table of each group (call), shared by its streams; entries whose
  // streams are all gone are swept now and then.
  std::unordered_map<unsigned, std::weak_ptr<SsrcTable>> ssrcTables_;
  unsigned closesSinceSweep_ = 0;
  Totals closedTotals_;  // what streams already closed had received
  uint32_t nextId_ = 1;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace rtpe
