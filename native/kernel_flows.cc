// Which streams the kernel forwards: see kernel_flows.h.
#include "kernel_flows.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "relay.h"
#include "stream.h"

namespace rtpe {

namespace {

// Unix ms of a bpf_ktime_get_ns() value (CLOCK_MONOTONIC).
int64_t unixMsOfKtime(uint64_t ns) {
  timespec mono, real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t offsetNs = (static_cast<int64_t>(real.tv_sec) - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
  return (static_cast<int64_t>(ns) + offsetNs) / 1000000;
}

// Adds what the kernel counted since `seen` to the streams' counters.
void addDelta(Stream& a, Stream* out, const FlowStats& now, FlowStats& seen) {
  uint64_t dp = now.packets - seen.packets, db = now.bytes - seen.bytes;
  if (now.packets >= seen.packets && dp) {
    a.counters.kernelPackets.fetch_add(dp, std::memory_order_relaxed);
    a.counters.kernelBytes.fetch_add(db, std::memory_order_relaxed);
    if (out) {
      out->counters.kernelPacketsOut.fetch_add(dp, std::memory_order_relaxed);
      out->counters.kernelBytesOut.fetch_add(db, std::memory_order_relaxed);
    }
  }
  if (now.last_ns > seen.last_ns) {
    int64_t ms = unixMsOfKtime(now.last_ns);
    std::atomic<int64_t>& last = a.counters.lastPacketMs;
    int64_t cur = last.load(std::memory_order_relaxed);
    while (cur < ms && !last.compare_exchange_weak(cur, ms, std::memory_order_relaxed)) {
    }
  }
  seen = now;
}

void foldLocked(KernelPath& k, Stream& a) {
  StreamKernel& sk = a.kernel;
  for (StreamKernel::Flow& f : sk.flows) {
    FlowStats now;
    if (k.read(f.key, now)) addDelta(a, sk.out.get(), now, f.seen);
  }
}

void removeFlow(KernelPath& k, Stream& a, StreamKernel::Flow& f) {
  FlowStats last;
  k.remove(f.key, last);
  addDelta(a, a.kernel.out.get(), last, f.seen);
}

void removeLocked(KernelPath& k, Stream& a) {
  StreamKernel& sk = a.kernel;
  for (StreamKernel::Flow& f : sk.flows) removeFlow(k, a, f);
  sk.flows.clear();
  sk.out.reset();
  sk.active.store(false, std::memory_order_relaxed);
}

bool anyAddress(const SockAddr& a) {
  if (a.af() == AF_INET) return a.u.v4.sin_addr.s_addr == 0;
  static const in6_addr any = IN6ADDR_ANY_INIT;
  return std::memcmp(&a.u.v6.sin6_addr, &any, sizeof(any)) == 0;
}

bool sameKey(const FlowKey& x, const FlowKey& y) { return std::memcmp(&x, &y, sizeof(x)) == 0; }

// What a's flows should be (see the conditions in the header); false: none.
// Runs on a's engine thread.
bool wanted(KernelPath& k, Stream& a, FlowRule& rule, std::vector<FlowKey>& keys, std::shared_ptr<Stream>& out) {
  keys.clear();
  if (!a.kernel.allowed.load(std::memory_order_relaxed) || a.closed.load(std::memory_order_relaxed)) return false;
  a.sync();
  const Stream::Hot& h = a.hot;
  // SRTP in or out needs user space (the forwarder neither decrypts nor encrypts).
  if (h.codecs || h.control.bits || a.player || a.audio || a.usesSrtp()) return false;
  const LearningState& l = h.learn;
  if (!l.confirmed || !l.current.valid()) return false;
  Stream* b = h.sink.get();
  if (!b || b->closed.load(std::memory_order_relaxed) || b->usesSrtp()) return false;
  b->sync();
  const LearningState& bl = b->hot.learn;
  if (!bl.current.valid() || bl.currentSocket < 0) return false;
  const Socket& bs = b->sockets[static_cast<size_t>(bl.currentSocket)];
  const int af = l.current.af();
  if (bl.current.af() != af || bs.local.af() != af || anyAddress(bs.local)) return false;

  std::memset(&rule, 0, sizeof(rule));
  uint8_t family;
  flowAddress(bs.local, rule.src_addr, rule.src_port, family);
  flowAddress(bl.current, rule.dst_addr, rule.dst_port, family);
  flowAddress(l.current, rule.expect_addr, rule.expect_port, family);
  rule.family = family;
  rule.flags = RTPE_FLOW_EXPECT_SOURCE;
  k.hints(bs.local, bl.current, rule.flags, rule.ifindex);
  const int tos = b->tos();
  rule.tos = tos > 0 && tos < 256 ? static_cast<uint8_t>(tos) : 0;
  for (const Socket& s : a.sockets) {
    if (s.fd < 0 || s.local.af() != af) continue;
    FlowKey key;
    std::memset(&key, 0, sizeof(key));
    flowAddress(s.local, key.addr, key.port, key.family);
    keys.push_back(key);
  }
  out = h.sink;
  return !keys.empty();
}

void linkFeeder(Stream& sink, const std::shared_ptr<Stream>& a) {
  std::lock_guard<std::mutex> lock(sink.kernel.mu);
  auto& f = sink.kernel.feeders;
  for (size_t i = 0; i < f.size();) {
    std::shared_ptr<Stream> p = f[i].lock();
    if (p == a) return;  // there already (its flows were pulled back meanwhile)
    if (!p) {
      f[i] = std::move(f.back());
      f.pop_back();
      continue;
    }
    i++;
  }
  f.push_back(a);
}

void unlinkFeeder(Stream& sink, const Stream* a) {
  std::lock_guard<std::mutex> lock(sink.kernel.mu);
  auto& f = sink.kernel.feeders;
  for (size_t i = 0; i < f.size();) {
    std::shared_ptr<Stream> p = f[i].lock();
    if (!p || p.get() == a) {
      f[i] = std::move(f.back());
      f.pop_back();
      continue;
    }
    i++;
  }
}

}  // namespace

void kernelPullBackFeeders(KernelPath& k, Stream& sink) {
  std::vector<std::weak_ptr<Stream>> feeders;
  {
    std::lock_guard<std::mutex> lock(sink.kernel.mu);
    feeders = sink.kernel.feeders;
  }
  for (const std::weak_ptr<Stream>& w : feeders) {
    std::shared_ptr<Stream> a = w.lock();
    if (a && a->kernel.active.load(std::memory_order_relaxed)) kernelRemove(k, *a);
  }
}

void kernelFold(KernelPath& k, Stream& a) {
  if (!a.kernel.active.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(a.kernel.mu);
  foldLocked(k, a);
}

void kernelRemove(KernelPath& k, Stream& a) {
  std::lock_guard<std::mutex> lock(a.kernel.mu);
  removeLocked(k, a);
}

void KernelSync::apply(const std::shared_ptr<Stream>& sp) {
  Stream& a = *sp;
  KernelPath* k = path_.load(std::memory_order_acquire);
  if (!k) return;
  FlowRule rule;
  std::vector<FlowKey>& keys = keys_;
  std::shared_ptr<Stream> out;
  bool want = wanted(*k, a, rule, keys, out);
  StreamKernel& sk = a.kernel;
  // The sink the flows sent for before and after, for its feeder list
  // (updated after unlocking: never two kernel locks at once).
  std::shared_ptr<Stream> before, after;
  struct Feeders {
    const std::shared_ptr<Stream>& self;
    std::shared_ptr<Stream>& before;
    std::shared_ptr<Stream>& after;
    ~Feeders() {
      if (before == after) return;
      if (before) unlinkFeeder(*before, self.get());
      if (after && after != self) linkFeeder(*after, self);
    }
  } feeders{sp, before, after};
  std::lock_guard<std::mutex> lock(sk.mu);
  before = sk.out;
  // A close on the JavaScript thread removes the flows under this lock after
  // setting closed: looking again here keeps them from coming back. So does
  // a configuration change since wanted() looked (the JavaScript thread has
  // pulled the flows back and queued a check that applies the new one).
  if (!want || a.closed.load(std::memory_order_relaxed) || a.changedSinceSync() || out->changedSinceSync()) {
    removeLocked(*k, a);
    return;
  }
  after = out;
  // What was counted so far belongs to the sink the flows sent for until now.
  foldLocked(*k, a);
  const bool sameRule = !sk.flows.empty() && std::memcmp(&rule, &sk.rule, sizeof(rule)) == 0;
  for (size_t i = 0; i < sk.flows.size();) {
    bool kept = std::any_of(keys.begin(), keys.end(), [&](const FlowKey& key) { return sameKey(key, sk.flows[i].key); });
    if (kept) {
      i++;
      continue;
    }
    removeFlow(*k, a, sk.flows[i]);
    sk.flows.erase(sk.flows.begin() + static_cast<long>(i));
  }
  sk.out = std::move(out);
  sk.rule = rule;
  for (const FlowKey& key : keys) {
    auto it = std::find_if(sk.flows.begin(), sk.flows.end(), [&](const StreamKernel::Flow& f) { return sameKey(f.key, key); });
    if (it != sk.flows.end() && sameRule) continue;
    if (k->put(key, rule) != 0) {
      // The table is full or the kernel refused: this socket stays in user space.
      if (it != sk.flows.end()) {
        removeFlow(*k, a, *it);
        sk.flows.erase(it);
      }
      continue;
    }
    if (it == sk.flows.end()) sk.flows.push_back(StreamKernel::Flow{key, FlowStats{}});
  }
  sk.active.store(!sk.flows.empty(), std::memory_order_relaxed);
  if (sk.flows.empty()) {
    sk.out.reset();
    after.reset();
  }
}

void KernelSync::check(const std::shared_ptr<Stream>& s) {
  if (!enabled()) return;
  if (!s->kernel.watched && s->kernel.allowed.load(std::memory_order_relaxed)) {
    s->kernel.watched = true;
    if (streams_.empty()) nextTickMs_ = monotonicMs() + kTickMs;
    streams_.push_back(s);
  }
  apply(s);
  // The streams it is the sink of send to its endpoint and from its socket.
  for (size_t i = 0; i < streams_.size(); i++) {
    Stream& a = *streams_[i];
    if (&a == s.get()) continue;
    a.sync();
    if (a.hot.sink == s) apply(streams_[i]);
  }
  if (!s->kernel.allowed.load(std::memory_order_relaxed) && !s->kernel.active.load(std::memory_order_relaxed)) forget(*s);
}

void KernelSync::checkAll() {
  for (size_t i = 0; i < streams_.size();) {
    Stream& s = *streams_[i];
    apply(streams_[i]);
    if (!s.kernel.active.load(std::memory_order_relaxed) &&
        (!s.kernel.allowed.load(std::memory_order_relaxed) || s.closed.load(std::memory_order_relaxed))) {
      s.kernel.watched = false;
      streams_[i] = std::move(streams_.back());
      streams_.pop_back();
      continue;
    }
    i++;
  }
}

void KernelSync::onLearned(uint32_t id) {
  for (const std::shared_ptr<Stream>& p : streams_) {
    Stream& a = *p;
    a.sync();
    if (a.id == id || (a.hot.sink && a.hot.sink->id == id)) apply(p);
  }
}

void KernelSync::dropClosedSinks() {
  KernelPath* k = path_.load(std::memory_order_acquire);
  if (!k) return;
  for (const std::shared_ptr<Stream>& p : streams_) {
    Stream& a = *p;
    if (!a.kernel.active.load(std::memory_order_relaxed)) continue;
    std::lock_guard<std::mutex> lock(a.kernel.mu);
    if (a.kernel.out && a.kernel.out->closed.load(std::memory_order_relaxed)) removeLocked(*k, a);
  }
}

void KernelSync::tickIfDue(int64_t monoMs) {
  if (streams_.empty() || monoMs < nextTickMs_) return;
  nextTickMs_ = monoMs + kTickMs;
  checkAll();
}

int KernelSync::msToTick(int64_t monoMs) const {
  if (streams_.empty()) return -1;
  int64_t d = nextTickMs_ - monoMs;
  return d <= 0 ? 0 : static_cast<int>(std::min<int64_t>(d, kTickMs));
}

void KernelSync::forget(Stream& s) {
  if (!s.kernel.watched) return;
  s.kernel.watched = false;
  for (size_t i = 0; i < streams_.size(); i++) {
    if (streams_[i].get() != &s) continue;
    streams_[i] = std::move(streams_.back());
    streams_.pop_back();
    return;
  }
}

}  // namespace rtpe
