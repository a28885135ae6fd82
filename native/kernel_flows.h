// Which streams the kernel forwards, kept right by their engine threads.
//
// JavaScript only says that a stream MAY be forwarded in the kernel
// (Engine::setKernel); the stream's engine thread decides whether it IS, from
// what it knows. A stream has a flow in the kernel's table (kernel.h) for each
// of its local sockets of its endpoint's family exactly while:
// - it is allowed,
// - its endpoint is confirmed (learning is over),
// - it has a sink, open, whose endpoint is known and of the same family (the
//   kernel does not translate between IPv4 and IPv6) and whose outgoing
//   socket is bound to a concrete address (the source the kernel writes),
// - it has no codec route, no media control bits (block, silence, DTMF
//   blocking, recording), no playback or audio player engaged, and neither it
//   nor its sink has SRTP contexts.
// The rule rewrites a packet to come from the sink's socket and go to the
// sink's endpoint, with the sink's TOS, and accepts only packets from the
// stream's own endpoint: anything else reaches the socket, where learning,
// strict source and media handover see it as before, and a changed endpoint
// rewrites the rule.
//
// When it is evaluated (engine thread, between packet batches, never per
// packet): after a command for the stream (setKernel, configure, setControl,
// play, audio player; the JavaScript thread removes the stream's flows
// itself before any of these but setKernel applies, so that what needs user
// space never sees a packet forwarded behind its back; a configuration change
// also re-evaluates the streams whose sink the stream is), after a batch that learned an endpoint (of any stream
// of the thread: it may be another's sink), before the sockets of closed
// streams are closed (so a rule never sends from a port that is gone), and on
// a tick about once a second (which also notices playbacks that ended).
//
// Counters. The kernel counts packets, bytes and the last packet time per
// flow; they are folded into the stream's counters (kernelPackets,
// kernelBytes, lastPacketMs) and its sink's (kernelPacketsOut,
// kernelBytesOut) as deltas: on each tick, whenever JavaScript reads the
// stream's figures, and a last time when a flow is removed. A fold may run on
// the JavaScript thread while the engine thread rewrites the rule: the
// stream's kernel lock (StreamKernel::mu) orders them; the packet path never
// takes it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernel.h"

namespace rtpe {

class Stream;

// The in-kernel state of one stream.
struct StreamKernel {
  std::atomic<bool> allowed{false};  // set by JavaScript
  std::atomic<bool> active{false};   // its flows are in the table
  bool watched = false;  // in its engine thread's list (engine thread only)

  std::mutex mu;  // guards the fields below
  struct Flow {
    FlowKey key;
    FlowStats seen;  // the kernel's counters as last folded
  };
  std::vector<Flow> flows;
  FlowRule rule{};
  std::shared_ptr<Stream> out;  // the sink the flows send for
  // The streams whose flows send for this one (as their sink); entries of
  // streams gone or moved on are dropped when the list is next updated.
  std::vector<std::weak_ptr<Stream>> feeders;
};

// Folds the kernel's counters of a's flows into the streams' counters.
// Runs on any thread; takes a's kernel lock; a few bpf() calls.
void kernelFold(KernelPath& k, Stream& a);
// Removes a's flows (folding a last time). Runs on any thread.
void kernelRemove(KernelPath& k, Stream& a);
// Removes the flows of the streams whose flows send for sink (its endpoint
// or socket is about to change). Runs on any thread.
void kernelPullBackFeeders(KernelPath& k, Stream& sink);

// One engine thread's streams that are allowed in the kernel or have flows.
// Engine thread only, except setPath (before any stream is watched).
class KernelSync {
 public:
  // Period of the tick (fold and re-evaluation).
  static constexpr int64_t kTickMs = 1000;

  void setPath(KernelPath* k) { path_.store(k, std::memory_order_release); }
  bool enabled() const { return path_.load(std::memory_order_acquire) != nullptr; }

  // Evaluates a stream after a command for it, and the streams it is the
  // sink of; keeps it in the list while it is allowed or has flows.
  void check(const std::shared_ptr<Stream>& s);
  // Evaluates every stream of the list (and folds their counters).
  void checkAll();
  // Evaluates the streams an endpoint change of stream id concerns: that
  // stream and the streams whose sink it is.
  void onLearned(uint32_t id);
  // Removes the flows that send for a sink closed meanwhile.
  void dropClosedSinks();
  // Runs the tick when it is due.
  void tickIfDue(int64_t monoMs);
  // Milliseconds until the next tick, -1 with an empty list.
  int msToTick(int64_t monoMs) const;
  // Takes a stream being retired off the list (its flows are gone already:
  // it is closed, and checkAll ran before the retirement).
  void forget(Stream& s);

 private:
  void apply(const std::shared_ptr<Stream>& a);

  std::atomic<KernelPath*> path_{nullptr};
  std::vector<std::shared_ptr<Stream>> streams_;
  std::vector<FlowKey> keys_;  // scratch of apply()
  int64_t nextTickMs_ = 0;
};

}  // namespace rtpe
