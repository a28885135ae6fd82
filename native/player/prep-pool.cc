#include "prep-pool.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "media-db.h"

namespace rtpe {
namespace player {

namespace {

struct Pool {
  std::mutex lock;
  std::condition_variable ready;
  std::deque<std::function<void()>> jobs;
  int threads = 4;
  bool started = false;

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(lock);
        ready.wait(l, [this] { return !jobs.empty(); });
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

// Never destroyed: its threads wait for jobs until the process ends.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void setPrepThreads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> l(p.lock);
  if (!p.started) p.threads = n < 0 ? 0 : n;
}

int prepThreads() {
  Pool& p = pool();
  std::lock_guard<std::mutex> l(p.lock);
  return p.threads;
}

bool submitPrep(std::function<void()> job) {
  Pool& p = pool();
  std::lock_guard<std::mutex> l(p.lock);
  if (p.threads == 0) return false;
  if (!p.started) {
    initDbLibrary();
    for (int i = 0; i < p.threads; i++) std::thread([&p] { p.run(); }).detach();
    p.started = true;
  }
  p.jobs.push_back(std::move(job));
  p.ready.notify_one();
  return true;
}

}  // namespace player
}  // namespace rtpe
