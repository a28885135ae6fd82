// An engine thread: see worker.h.
#include "worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rtpe {

// Events buffered per loop iteration before a batch is handed over.
static constexpr size_t kEventReserve = 64;

Worker::Worker(unsigned index, EventSink sink) : index_(index), sink_(std::move(sink)), relay_(events_) {
  events_.reserve(kEventReserve);
}

Worker::~Worker() { stop(); }

int Worker::start() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return errno;
  evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd_ < 0) return errno;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up descriptor is the only one without a socket
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) return errno;
  std::lock_guard<std::mutex> lock(mu_);
  thread_ = std::thread(&Worker::run, this);
  started_ = true;
  return 0;
}

int Worker::watch(Socket& sock) {
  epoll_event ev{};
  // Level-triggered: a socket with packets left (budget used up, or read one
  // packet at a time, see Relay::onReadable) is reported again.
  ev.events = EPOLLIN;
  ev.data.ptr = &sock;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, sock.fd, &ev) == 0 ? 0 : errno;
}

void Worker::wake() {
  uint64_t one = 1;
  // A full counter (EAGAIN) still means the thread is woken; nothing to do.
  ssize_t r = write(evfd_, &one, sizeof(one));
  (void)r;
}

void Worker::remove(std::vector<std::shared_ptr<Stream>>& streams) {
  if (streams.empty()) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_ || exited_) {
      // Nobody reads the sockets: they can be closed here.
      lock.unlock();
      for (auto& s : streams) s->retire();
      return;
    }
    for (auto& s : streams) queue_.push_back(Command{CommandKind::Remove, std::move(s), nullptr, false});
    posted_ += streams.size();
    queued_.store(true, std::memory_order_relaxed);
  }
  streams.clear();
  // A lingering thread finds the queue on its own (see the header).
  if (parked_.load(std::memory_order_seq_cst)) wake();
}

void Worker::post(Command c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || exited_) return;
    queue_.push_back(std::move(c));
    posted_++;
    queued_.store(true, std::memory_order_relaxed);
  }
  if (parked_.load(std::memory_order_seq_cst)) wake();
}

void Worker::play(std::shared_ptr<Stream> stream, std::shared_ptr<player::Player> p, bool queue) {
  post(Command{CommandKind::Play, std::move(stream), std::move(p), queue});
}

void Worker::setAudioPlayer(std::shared_ptr<Stream> stream, std::shared_ptr<player::AudioPlayer> a) {
  post(Command{CommandKind::Audio, std::move(stream), nullptr, false, std::move(a)});
}

void Worker::kernelCheck(std::shared_ptr<Stream> stream) {
  post(Command{CommandKind::Kernel, std::move(stream), nullptr, false});
}

bool Worker::settle() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = posted_;
  if (done_ >= target || exited_) return false;
  wake();
  cv_.wait(lock, [&] { return done_ >= target || exited_; });
  return true;
}

bool Worker::park() {
  parked_.store(true, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.empty()) return true;
  parked_.store(false, std::memory_order_relaxed);
  return false;
}

void Worker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ && !exited_) {
      queue_.push_back(Command{CommandKind::Stop, nullptr, nullptr, false});
      ++posted_;
      wake();
    }
  }
  if (thread_.joinable()) thread_.join();
  {
    // A thread that never started leaves nothing queued (remove() retires
    // directly), one that ran retired its queue on the way out.
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
  }
  if (evfd_ >= 0) close(evfd_);
  if (epfd_ >= 0) close(epfd_);
  evfd_ = epfd_ = -1;
}

bool Worker::running() {
  std::lock_guard<std::mutex> lock(mu_);
  return started_ && !exited_;
}

std::string Worker::failure() {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void Worker::run() {
  char name[16];
  std::snprintf(name, sizeof(name), "rtpe-media-%u", index_ % 1000);
  pthread_setname_np(pthread_self(), name);
  epoll_event evs[kMaxEvents];
  int64_t lingerUntil = 0;
  for (;;) {
    // Sleep until a packet or a command arrives; a thread that had commands
    // lately looks at its queue every kRetireTickMs instead of being woken.
    int timeout = kRetireTickMs;
    if (monotonicMs() >= lingerUntil) timeout = park() ? -1 : 0;
    // Transcoders are due a tick or a playback a packet (only while a stream
    // of this thread transcodes or plays).
    int tick = relay_.msToTick();
    if (tick >= 0 && (timeout < 0 || tick < timeout)) timeout = tick;
    // In-kernel flows are folded and re-evaluated about once a second.
    tick = kernel_.enabled() ? kernel_.msToTick(monotonicMs()) : -1;
    if (tick >= 0 && (timeout < 0 || tick < timeout)) timeout = tick;
    int n = epoll_wait(epfd_, evs, kMaxEvents, timeout);
    parked_.store(false, std::memory_order_relaxed);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "epoll_wait");
      break;
    }
    relay_.beginRound();
    bool woken = false;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == nullptr) {
        woken = true;
        continue;
      }
      relay_.onReadable(*static_cast<Socket*>(evs[i].data.ptr));
    }
    relay_.tickIfDue();
    relay_.playIfDue();
    relay_.mixIfDue();
    relay_.flush();
    if (kernel_.enabled()) syncKernel();
    flushEvents();
    if (woken) {
      uint64_t count;
      ssize_t r = read(evfd_, &count, sizeof(count));
      (void)r;
    }
    if (woken || queued_.load(std::memory_order_relaxed)) {
      if (!applyCommands()) break;
      lingerUntil = monotonicMs() + kLingerMs;
      // A playback handed over just now starts at once.
      relay_.playIfDue();
      relay_.flush();
    }
  }
  retireLeftovers();
}

bool Worker::applyCommands() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The spare vector keeps its capacity: no allocation in steady state.
    batch_.swap(queue_);
    queued_.store(false, std::memory_order_relaxed);
  }
  bool keepRunning = true;
  // Streams closed now may be the sinks of kernel flows: those go before the
  // sockets whose source address and port they borrow.
  if (kernel_.enabled() &&
      std::any_of(batch_.begin(), batch_.end(), [](const Command& c) { return c.kind == CommandKind::Remove; })) {
    kernel_.dropClosedSinks();
  }
  for (Command& c : batch_) {
    switch (c.kind) {
      case CommandKind::Remove:
        kernel_.forget(*c.stream);
        relay_.forget(*c.stream);
        c.stream->retire();
        break;
      case CommandKind::Stop:
        keepRunning = false;
        break;
      case CommandKind::Play:
        if (!c.stream->closed.load(std::memory_order_relaxed)) relay_.setPlayer(*c.stream, std::move(c.player), c.queue);
        if (c.stream->kernel.watched) kernel_.check(c.stream);
        break;
      case CommandKind::Audio:
        if (!c.stream->closed.load(std::memory_order_relaxed)) relay_.setAudioPlayer(*c.stream, std::move(c.audio));
        if (c.stream->kernel.watched) kernel_.check(c.stream);
        break;
      case CommandKind::Kernel:
        kernel_.check(c.stream);
        break;
    }
  }
  size_t applied = batch_.size();
  // Usually the last references: closed streams are freed here.
  batch_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  done_ += applied;
  cv_.notify_all();
  return keepRunning;
}

void Worker::retireLeftovers() {
  // Under the lock, so that no remove() queues behind our back once exited_
  // is set; this happens once per thread.
  std::lock_guard<std::mutex> lock(mu_);
  for (Command& c : queue_) {
    if (c.stream) c.stream->retire();
  }
  done_ += queue_.size();
  queue_.clear();
  exited_ = true;
  cv_.notify_all();
}

void Worker::syncKernel() {
  // A learned endpoint may be this stream's or another's sink's.
  for (const Event& e : events_) {
    if (e.type == Event::Type::Learned) kernel_.onLearned(e.id);
  }
  kernel_.tickIfDue(monotonicMs());
}

void Worker::flushEvents() {
  if (events_.empty()) return;
  std::vector<Event> out;
  out.swap(events_);
  events_.reserve(kEventReserve);
  if (sink_) sink_(std::move(out));
}

void Worker::fail(int err, const char* what) {
  std::string msg = std::string("media engine thread ") + std::to_string(index_) + " failed: " + what + ": " +
                    std::strerror(err);
  {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = msg;
  }
  Event e;
  e.type = Event::Type::Error;
  e.id = 0;
  e.code = "EENGINE";
  e.message = msg;
  events_.push_back(std::move(e));
  flushEvents();
}

}  // namespace rtpe
