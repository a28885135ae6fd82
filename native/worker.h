// An engine thread: an epoll loop over the sockets of the streams it owns.
//
// Commands from JavaScript. Opening a stream needs no command: the JavaScript
// thread binds the sockets and adds them to this thread's epoll set directly
// (epoll_ctl is thread-safe), so bind and registration errors are reported
// synchronously. Configuration needs no command either: it is written under the
// stream's lock and picked up by the packet path through a version number (see
// stream.h). Only closing goes through a mutex-protected queue with an eventfd
// wake-up, because a socket may be closed only by the thread that may be
// reading it: the engine thread applies the queue between two epoll batches,
// when no event of the batch still refers to the socket.
//
// Closing does not wait. The JavaScript thread marks the streams closed (the
// packet path drops what reaches a closed stream from then on), queues them and
// returns; the engine thread closes their sockets a few milliseconds later.
// Waking a thread costs the waker an inter-processor interrupt, dear in a
// virtual machine (several times the cost of the rest of a close), so the
// queue is not a wake-up per close. A thread that has had commands in the last
// second lingers: it polls with a short timeout (kRetireTickMs) and picks the
// queue up on whichever iteration comes first, a busy one or the tick. Only a
// thread parked in an unbounded epoll_wait is woken through the eventfd, and
// it then lingers in turn: under steady signalling nobody writes the eventfd at
// all, and an idle engine costs no wake-ups. Whoever needs a port back at once
// (a bind that found it still in use, see Engine::openStream) calls settle(),
// which wakes the thread and waits.
//
// Parking is race-free: the thread sets parked_, then looks at the queue under
// the lock; remove() queues under the lock, then looks at parked_. Whichever
// takes the lock second sees the other's write: either the thread finds the
// command, or remove() finds the thread parked and wakes it.
//
// The loop. epoll is level-triggered: each ready socket is read up to its
// budget (Relay::onReadable), and one with packets left is simply reported
// again by the next epoll_wait. Each iteration reads the clock once, reads the
// ready sockets, ticks the Transcoders when they are due (every
// Relay::kTickMs; epoll_wait has a timeout only while a stream of the thread
// transcodes), then flushes the relay's send queue (one sendmmsg per
// outgoing socket) before it applies commands, so that no queued packet
// outlives the stream it points to. The thread is named rtpe-media-N.
//
// Why not one lock around the stream table: the packet path would take it on
// every batch and JavaScript would contend with every busy socket; here the
// packet path takes no lock unless signalling changed something.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "event.h"
#include "kernel_flows.h"
#include "relay.h"
#include "stream.h"

namespace rtpe {

class Worker {
 public:
  Worker(unsigned index, EventSink sink);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the epoll set and the eventfd and starts the thread. Returns 0 or
  // an errno value. Runs on the JavaScript thread.
  int start();

  // Adds a socket of a stream owned by this thread to the epoll set. Returns 0
  // or an errno value. Runs on the JavaScript thread; never blocks.
  int watch(Socket& sock);

  // Queues streams (already marked closed) for their sockets to be closed on
  // the engine thread within kRetireTickMs or so; if the thread has exited,
  // closes them directly. Runs on the JavaScript thread; never blocks (beyond
  // the queue's lock).
  void remove(std::vector<std::shared_ptr<Stream>>& streams);

  // Hands a playback to the stream (null stops the current one); with queue,
  // it follows the current one instead of replacing it. Applied on the engine
  // thread within kRetireTickMs or so; ignored if the thread has exited. Runs
  // on the JavaScript thread; never blocks (beyond the queue's lock).
  void play(std::shared_ptr<Stream> stream, std::shared_ptr<player::Player> p, bool queue);

  // Engages an audio player on the stream (null: disengages it). Applied like
  // play(). Runs on the JavaScript thread; never blocks (beyond the lock).
  void setAudioPlayer(std::shared_ptr<Stream> stream, std::shared_ptr<player::AudioPlayer> a);

  // Has the engine thread re-evaluate the stream's in-kernel flows
  // (kernel_flows.h) after JavaScript changed what they depend on. Applied
  // like play(). Runs on the JavaScript thread; never blocks (beyond the lock).
  void kernelCheck(std::shared_ptr<Stream> stream);
  // The kernel table the thread's streams may use; set once, before any
  // kernelCheck(). Runs on the JavaScript thread.
  void setKernelPath(KernelPath* k) { kernel_.setPath(k); }

  // Waits until every stream queued so far has been retired. Returns false at
  // once if none was pending. Runs on the JavaScript thread; blocks for at most
  // one loop iteration.
  bool settle();

  // The recorder ring of this thread's relay; call before start().
  void setRecordRing(RecordRing* ring) { relay_.setRecordRing(ring); }

  // Stops and joins the thread. Idempotent. Runs on the JavaScript thread.
  void stop();

  // False once the thread has exited (stopped or failed).
  bool running();
  // Why the thread failed, empty if it did not.
  std::string failure();

 private:
  enum class CommandKind : uint8_t { Remove, Stop, Play, Audio, Kernel };
  struct Command {
    CommandKind kind;
    std::shared_ptr<Stream> stream;
    std::shared_ptr<player::Player> player;
    bool queue = false;
    std::shared_ptr<player::AudioPlayer> audio = nullptr;
  };
  static constexpr int kMaxEvents = 128;
  // How often a lingering thread looks at the queue, and for how long after
  // its last command it lingers before parking.
  static constexpr int kRetireTickMs = 5;
  static constexpr int64_t kLingerMs = 1000;

  void run();
  void wake();
  // Before an unbounded wait: marks the thread parked, unless commands are
  // queued (then returns false and the thread must not wait).
  bool park();
  // Applies the queued commands; returns false if the thread must stop.
  bool applyCommands();
  // Retires what is still queued once the thread has left its loop.
  void retireLeftovers();
  void flushEvents();
  // Posts a command for a stream and wakes a parked thread.
  void post(Command c);
  // Re-evaluates the in-kernel flows when an endpoint was learned in this
  // iteration or the tick is due.
  void syncKernel();
  void fail(int err, const char* what);

  const unsigned index_;
  EventSink sink_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;  // signalled when done_ moves or the thread exits
  std::vector<Command> queue_;
  std::atomic<bool> queued_{false};  // queue_ is not empty; read without the lock by the loop
  std::atomic<bool> parked_{false};  // the thread is (about to be) in an unbounded epoll_wait
  uint64_t posted_ = 0;  // commands queued so far
  uint64_t done_ = 0;    // commands applied so far
  bool started_ = false;
  bool exited_ = false;
  std::string failure_;

  // Engine-thread state.
  std::vector<Command> batch_;  // the commands being applied
  std::vector<Event> events_;
  Relay relay_;
  KernelSync kernel_;
};

}  // namespace rtpe
