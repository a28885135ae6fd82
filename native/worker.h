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
// when no event of the batch still refers to the socket, and acknowledges. The
// JavaScript thread waits for that acknowledgement (at most one loop iteration),
// so that the port is free when closeStream() returns.
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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "event.h"
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

  // Closes the stream's sockets on the engine thread and waits until that is
  // done; if the thread has exited, closes them directly. Runs on the
  // JavaScript thread; blocks for at most one loop iteration.
  void remove(const std::shared_ptr<Stream>& stream);

  // Stops and joins the thread. Idempotent. Runs on the JavaScript thread.
  void stop();

  // False once the thread has exited (stopped or failed).
  bool running();
  // Why the thread failed, empty if it did not.
  std::string failure();

 private:
  enum class CommandKind : uint8_t { Remove, Stop };
  struct Command {
    CommandKind kind;
    std::shared_ptr<Stream> stream;
  };
  static constexpr int kMaxEvents = 128;

  void run();
  void wake();
  // Applies the queued commands; returns false if the thread must stop.
  bool applyCommands();
  void flushEvents();
  void fail(int err, const char* what);

  const unsigned index_;
  EventSink sink_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::deque<Command> queue_;
  uint64_t posted_ = 0;  // commands queued so far
  uint64_t done_ = 0;    // commands applied so far
  bool started_ = false;
  bool exited_ = false;
  std::string failure_;

  // Engine-thread state.
  std::vector<Event> events_;
  Relay relay_;
};

}  // namespace rtpe
