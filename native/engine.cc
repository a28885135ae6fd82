// The media engine: see engine.h.
#include "engine.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtpe {

static std::string describe(const SockAddr& a) {
  if (a.af() == AF_INET6) return "[" + a.host() + "]:" + std::to_string(a.port());
  return a.host() + ":" + std::to_string(a.port());
}

static Status errnoStatus(int err, const std::string& what) {
  return Status::error(errnoCode(err), what + ": " + std::strerror(err));
}

Engine::Engine(Options opts, EventSink sink) : opts_(opts), sink_(std::move(sink)) {
  if (opts_.threads < 1) opts_.threads = 1;
  if (opts_.learningDelayMs < 0) opts_.learningDelayMs = 0;
  if (!opts_.softwareId.empty() && opts_.softwareId != stun::software()) stun::setSoftware(opts_.softwareId);
}

Engine::~Engine() { stop(); }

Status Engine::start() {
  if (started_) return Status{};
  started_ = true;
  // The default holds about a second of packets per engine thread at 2,000
  // recorded calls; the pages are touched only when used.
  recorder_.reset(new Recorder(opts_.threads, opts_.recordRingBytes));
  for (unsigned i = 0; i < opts_.threads; i++) {
    workers_.emplace_back(new Worker(i, sink_));
    workers_.back()->setRecordRing(recorder_->ring(i));
    int err = workers_.back()->start();
    if (err) {
      stop();
      return errnoStatus(err, "cannot start media engine thread " + std::to_string(i));
    }
  }
  return Status{};
}

Status Engine::checkUsable(unsigned worker) {
  if (stopped_ || !started_) return Status::error("EENGINE", "media engine is closed");
  if (!workers_[worker]->running()) {
    std::string why = workers_[worker]->failure();
    return Status::error("EENGINE", why.empty() ? "media engine thread is not running" : why);
  }
  return Status{};
}

Status Engine::openStream(const std::vector<SocketSpec>& specs, unsigned group, uint32_t& id) {
  unsigned w = workers_.empty() ? 0 : group % workers_.size();
  Status st = checkUsable(w);
  if (!st.ok()) return st;
  if (specs.empty() || specs.size() > kMaxSocketsPerStream) {
    return Status::error("EINVAL", "a stream needs 1 to " + std::to_string(kMaxSocketsPerStream) + " local sockets");
  }

  int port = specs[0].port;
  std::vector<SockAddr> addrs(specs.size());
  for (size_t i = 0; i < specs.size(); i++) {
    const SocketSpec& s = specs[i];
    if (s.port < 0 || s.port > 65535) return Status::error("EINVAL", "invalid port " + std::to_string(s.port));
    if (s.port != 0 && port != 0 && s.port != port) {
      return Status::error("EINVAL", "all sockets of a stream must use the same port");
    }
    if (port == 0) port = s.port;
    if (!SockAddr::parse(s.family, s.address, 0, addrs[i])) {
      return Status::error("EINVAL", "invalid IPv" + std::to_string(s.family) + " address '" + s.address + "'");
    }
  }

  auto stream = std::make_shared<Stream>(nextId_, w);
  std::shared_ptr<SsrcTable> table = ssrcTables_[group].lock();
  if (!table) {
    table = std::make_shared<SsrcTable>(opts_.mos);
    ssrcTables_[group] = table;
  }
  stream->ssrcTable = std::move(table);
  stream->sockets.resize(specs.size());
  for (size_t i = 0; i < addrs.size(); i++) {
    addrs[i].setPort(static_cast<uint16_t>(port));
    int fd = openUdpSocket(addrs[i]);
    // The port may belong to a stream closed a moment ago whose engine thread
    // has not got to it yet: let the engine threads catch up and try again.
    if (fd == -EADDRINUSE && port != 0 && settleRemovals()) fd = openUdpSocket(addrs[i]);
    if (fd < 0) {
      stream->retire();
      return errnoStatus(-fd, "cannot bind " + describe(addrs[i]));
    }
    if (port == 0) {
      port = boundPort(fd);
      addrs[i].setPort(static_cast<uint16_t>(port));
    }
    Socket& sock = stream->sockets[i];
    sock.fd = fd;
    sock.stream = stream.get();
    sock.index = static_cast<uint8_t>(i);
    sock.local = addrs[i];
  }
  for (Socket& sock : stream->sockets) {
    int err = workers_[w]->watch(sock);
    if (err) {
      // The sockets added so far may already be in use by the engine thread:
      // close them through it.
      stream->closed.store(true, std::memory_order_relaxed);
      std::vector<std::shared_ptr<Stream>> doomed{stream};
      workers_[w]->remove(doomed);
      return errnoStatus(err, "cannot poll " + describe(sock.local));
    }
  }
  id = nextId_++;
  streams_.emplace(id, std::move(stream));
  return Status{};
}

Status Engine::configure(uint32_t id, const ConfigSpec& spec) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  Stream& s = *it->second;
  // A stream whose engine thread failed relays nothing: say so.
  Status usable = checkUsable(s.worker);
  if (!usable.ok()) return usable;
  StreamConfig cfg;
  cfg.endpoint = spec.endpoint;
  cfg.learning = spec.learning;
  cfg.strictSource = spec.strictSource;
  cfg.mediaHandover = spec.mediaHandover;
  cfg.tos = spec.tos;
  cfg.ice = spec.ice;
  cfg.clockRates = spec.clockRates;
  for (int k = 0; k < 2; k++) {
    uint32_t sinkId = k == 0 ? spec.sink : spec.rtcpSink;
    if (!sinkId) continue;
    auto si = streams_.find(sinkId);
    if (si == streams_.end()) return Status::error("ENOENT", "unknown sink stream " + std::to_string(sinkId));
    if (si->second->worker != s.worker) {
      return Status::error("EINVAL", "sink stream " + std::to_string(sinkId) + " belongs to another engine thread");
    }
    (k == 0 ? cfg.sink : cfg.rtcpSink) = si->second;
  }
  if (spec.hasCodecs) {
    std::shared_ptr<codec::CodecRoute> current = s.codecRoute();
    if (current && current->spec() == spec.codecs) {
      cfg.codecs = std::move(current);
    } else {
      std::string err;
      cfg.codecs = codec::CodecRoute::create(spec.codecs, err);
      if (!cfg.codecs) return Status::error("EINVAL", err);
    }
  }
  if (cfg.tos != s.tos()) {
    // Going back to "unset" means the kernel default, 0.
    int tos = cfg.tos < 0 ? 0 : cfg.tos;
    for (Socket& sock : s.sockets) {
      int err = setSocketTos(sock.fd, sock.local.af(), tos);
      if (err) return errnoStatus(err, "cannot set TOS on " + describe(sock.local));
    }
  }
  s.configure(std::move(cfg), monotonicMs(), opts_.learningDelayMs);
  kernelRecheck(it->second);
  return Status{};
}

Status Engine::play(uint32_t id, std::shared_ptr<player::Player> p, bool queue) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  Status usable = checkUsable(it->second->worker);
  if (!usable.ok()) return usable;
  kernelPullBack(*it->second);
  workers_[it->second->worker]->play(it->second, std::move(p), queue);
  return Status();
}

Status Engine::setAudioPlayer(uint32_t id, std::shared_ptr<player::AudioPlayer> a) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  Status usable = checkUsable(it->second->worker);
  if (!usable.ok()) return usable;
  kernelPullBack(*it->second);
  workers_[it->second->worker]->setAudioPlayer(it->second, std::move(a));
  return Status();
}

void Engine::closeStreams(const uint32_t* ids, size_t n) {
  // Streams to retire, per engine thread: each thread gets its share in one go.
  std::vector<std::vector<std::shared_ptr<Stream>>> doomed(workers_.size());
  for (size_t i = 0; i < n; i++) {
    auto it = streams_.find(ids[i]);
    if (it == streams_.end()) continue;
    std::shared_ptr<Stream> s = std::move(it->second);
    streams_.erase(it);
    // From here on the packet path drops what reaches the stream, and its
    // engine thread installs no flow for it.
    s->closed.store(true, std::memory_order_relaxed);
    // Its flows go now, their last counts with them, and so do those that
    // send from its socket.
    if (kernelIsOpen()) {
      kernelPullBack(*s);
      rtpe::kernelPullBackFeeders(*kernel_, *s);
    }
    const StreamCounters& c = s->counters;
    closedTotals_.packets += c.packets.load(std::memory_order_relaxed) + c.kernelPackets.load(std::memory_order_relaxed);
    closedTotals_.bytes += c.bytes.load(std::memory_order_relaxed) + c.kernelBytes.load(std::memory_order_relaxed);
    closedTotals_.errors += c.errors.load(std::memory_order_relaxed);
    if (s->worker < workers_.size()) doomed[s->worker].push_back(std::move(s));
    else s->retire();
    ++closesSinceSweep_;
  }
  for (size_t w = 0; w < doomed.size(); w++) workers_[w]->remove(doomed[w]);
  if (closesSinceSweep_ >= 256) {
    closesSinceSweep_ = 0;
    for (auto t = ssrcTables_.begin(); t != ssrcTables_.end();) {
      if (t->second.expired()) t = ssrcTables_.erase(t);
      else ++t;
    }
  }
}

bool Engine::settleRemovals() {
  bool waited = false;
  for (auto& w : workers_) waited |= w->settle();
  return waited;
}

Engine::Totals Engine::totals() const {
  Totals t = closedTotals_;
  for (const auto& kv : streams_) {
    const StreamCounters& c = kv.second->counters;
    t.packets += c.packets.load(std::memory_order_relaxed) + c.kernelPackets.load(std::memory_order_relaxed);
    t.bytes += c.bytes.load(std::memory_order_relaxed) + c.kernelBytes.load(std::memory_order_relaxed);
    t.errors += c.errors.load(std::memory_order_relaxed);
  }
  return t;
}

void Engine::ssrcStats(unsigned group, std::vector<SsrcSnapshot>& out) {
  out.clear();
  auto it = ssrcTables_.find(group);
  if (it == ssrcTables_.end()) return;
  std::shared_ptr<SsrcTable> table = it->second.lock();
  if (table) table->snapshot(out);
}

Status Engine::lastPacket(uint32_t id, int64_t& ms) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  kernelFold(*it->second);
  ms = it->second->counters.lastPacketMs.load(std::memory_order_relaxed);
  return Status{};
}

Status Engine::snapshot(uint32_t id, StreamSnapshot& out) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  kernelFold(*it->second);
  it->second->snapshot(out);
  return Status{};
}

void Engine::kernelPullBack(Stream& s) {
  if (kernelIsOpen() && s.kernel.active.load(std::memory_order_relaxed)) rtpe::kernelRemove(*kernel_, s);
}

void Engine::kernelRecheck(const std::shared_ptr<Stream>& s) {
  if (!kernelIsOpen()) return;
  // What changed applies to user space from now on: its flows go at once,
  // and the engine thread puts them back if the stream still qualifies
  // (and rewrites the flows of the streams it is the sink of).
  kernelPullBack(*s);
  rtpe::kernelPullBackFeeders(*kernel_, *s);
  workers_[s->worker]->kernelCheck(s);
}

void Engine::kernelFold(Stream& s) {
  if (kernelIsOpen() && s.kernel.active.load(std::memory_order_relaxed)) rtpe::kernelFold(*kernel_, s);
}

std::string Engine::kernelOpen(int table, const std::vector<std::string>& ifnames) {
  if (stopped_ || !started_) return "kernel forwarding unavailable: the media engine is closed";
  if (kernelIsOpen()) return "";
  std::unique_ptr<KernelPath> k(new KernelPath());
  std::string err = k->open(table, ifnames);
  if (!err.empty()) return err;
  kernel_ = std::move(k);
  for (auto& w : workers_) w->setKernelPath(kernel_.get());
  // Streams allowed before the kernel path opened get their flows now.
  for (auto& kv : streams_) {
    if (kv.second->kernel.allowed.load(std::memory_order_relaxed)) workers_[kv.second->worker]->kernelCheck(kv.second);
  }
  return "";
}

Status Engine::setKernel(uint32_t id, bool allowed) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  it->second->kernel.allowed.store(allowed, std::memory_order_relaxed);
  if (kernelIsOpen()) workers_[it->second->worker]->kernelCheck(it->second);
  return Status{};
}

Status Engine::setControl(uint32_t id, const MediaControl& c) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  it->second->setControl(c);
  kernelRecheck(it->second);
  return Status{};
}

Status Engine::setSrtp(uint32_t id, const SrtpKey& in, const SrtpKey& out) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return Status::error("ENOENT", "unknown stream " + std::to_string(id));
  std::string err;
  if (!it->second->setSrtp(in, out, err)) return Status::error("EINVAL", err);
  return Status{};
}

Status Engine::openRecording(uint32_t recording, const std::string& path, bool eth) {
  if (stopped_ || !recorder_) return Status::error("EENGINE", "media engine is closed");
  if (recording == 0) return Status::error("EINVAL", "recording id 0 is reserved");
  int err = recorder_->open(recording, path, eth);
  if (err) return errnoStatus(err, "cannot create " + path);
  return Status{};
}

void Engine::closeRecording(uint32_t recording) {
  if (recorder_) recorder_->close(recording);
}

uint64_t Engine::recordedPackets(uint32_t recording) { return recorder_ ? recorder_->written(recording) : 0; }

uint64_t Engine::recordingDrops() { return recorder_ ? recorder_->dropped() : 0; }

void Engine::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) w->stop();
  // Every packet the engine threads queued is written before the files close.
  if (recorder_) recorder_->stop();
  // The threads are gone: nothing reads the sockets any more.
  for (auto& kv : streams_) kv.second->retire();
  streams_.clear();
  // The filters go, and the table with them.
  if (kernel_) kernel_->close();
}

}  // namespace rtpe
