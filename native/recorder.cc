// Call recording into pcap files: see recorder.h.
#include "recorder.h"

#include "bytes.h"

#include <arpa/inet.h>
#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace rtpe {

namespace {

constexpr size_t kAlign = 8;
constexpr size_t align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// libpcap's file format: the global header, then per packet a record header.
constexpr uint32_t kPcapMagic = 0xa1b2c3d4;  // microsecond timestamps
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRaw = 101;  // packets start with the IP header
constexpr uint32_t kSnapLen = 65535;
constexpr size_t kFileBuffer = 64 * 1024;
// How long the writer thread sleeps between drains while files are open
// (open() and close() wake it at once), and how often it flushes the files'
// buffers so that a recording in progress can be read.
constexpr auto kPollInterval = std::chrono::milliseconds(10);
constexpr auto kFlushInterval = std::chrono::milliseconds(200);

struct PcapGlobal {
  uint32_t magic;
  uint16_t major, minor;
  int32_t zone;
  uint32_t sigfigs, snaplen, network;
};
struct PcapRecord {
  uint32_t sec, usec, incl, orig;
};

uint16_t ipChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (static_cast<uint32_t>(p[i]) << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

RecordRing::RecordRing(size_t capacity) : buf_(new uint8_t[align(capacity)]), cap_(align(capacity)) {}

bool RecordRing::push(uint32_t recording, int64_t unixUs, const SockAddr& src, const SockAddr& dst,
                      const uint8_t* data, uint32_t len) {
  size_t need = align(sizeof(Header) + len);
  size_t head = head_.load(std::memory_order_relaxed);
  size_t tail = tail_.load(std::memory_order_acquire);
  size_t pos = head % cap_;
  // A record never wraps: the rest of the buffer becomes padding instead.
  size_t pad = cap_ - pos < need ? cap_ - pos : 0;
  if (need + pad > cap_ - (head - tail)) {
    dropped.store(dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  if (pad) {
    Header* h = reinterpret_cast<Header*>(buf_.get() + pos);
    h->size = static_cast<uint32_t>(pad);
    h->recording = 0;
    head += pad;
    pos = 0;
  }
  Header* h = reinterpret_cast<Header*>(buf_.get() + pos);
  h->size = static_cast<uint32_t>(need);
  h->recording = recording;
  h->unixUs = unixUs;
  h->src = src;
  h->dst = dst;
  h->len = len;
  std::memcpy(h + 1, data, len);
  head_.store(head + need, std::memory_order_release);
  return true;
}

Recorder::Recorder(unsigned rings, size_t ringBytes) {
  for (unsigned i = 0; i < rings; i++) rings_.emplace_back(new RecordRing(ringBytes));
}

Recorder::~Recorder() { stop(); }

int Recorder::open(uint32_t recording, const std::string& path, bool eth) {
  FILE* fp = std::fopen(path.c_str(), "wbx");
  if (!fp) return errno;
  std::setvbuf(fp, nullptr, _IOFBF, kFileBuffer);
  PcapGlobal g{kPcapMagic, 2, 4, 0, 0, kSnapLen, eth ? kLinkEthernet : kLinkRaw};
  if (std::fwrite(&g, sizeof(g), 1, fp) != 1 || std::fflush(fp) != 0) {
    int err = errno ? errno : EIO;
    std::fclose(fp);
    return err;
  }
  std::lock_guard<std::mutex> lock(mu_);
  File& f = files_[recording];
  if (f.fp) std::fclose(f.fp);  // an id reused without close(): the old file ends here
  f.fp = fp;
  f.eth = eth;
  f.packets = 0;
  if (!running_) {
    running_ = true;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
  return 0;
}

void Recorder::close(uint32_t recording) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!running_ || files_.find(recording) == files_.end()) return;
  closing_.push_back(recording);
  uint64_t ticket = ++closeRequests_;
  wake_.notify_one();
  // The writer handles the request within one poll interval; the bound only
  // guards against a writer stuck on a slow disk.
  done_.wait_for(lock, std::chrono::seconds(2), [&] { return closesDone_ >= ticket || !running_; });
}

uint64_t Recorder::written(uint32_t recording) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(recording);
  return it == files_.end() ? 0 : it->second.packets;
}

uint64_t Recorder::dropped() {
  uint64_t n = orphans_.load(std::memory_order_relaxed);
  for (auto& r : rings_) n += r->dropped.load(std::memory_order_relaxed);
  return n;
}

void Recorder::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    stopping_ = true;
    wake_.notify_one();
  }
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  done_.notify_all();
}

void Recorder::run() {
  pthread_setname_np(pthread_self(), "rtpe-recorder");
  auto lastFlush = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // The rings are drained under the lock: open() and close() only wait for
    // the end of a pass, and the packet path never takes this lock.
    size_t n = 0;
    for (auto& r : rings_) {
      n += r->drain([&](const RecordRing::Packet& p) {
        auto it = files_.find(p.recording);
        if (it == files_.end()) {
          orphans_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        write(it->second, p);
      });
    }
    if (!closing_.empty()) {
      for (uint32_t id : closing_) {
        auto it = files_.find(id);
        if (it == files_.end()) continue;
        std::fclose(it->second.fp);
        files_.erase(it);
      }
      closesDone_ += closing_.size();
      closing_.clear();
      done_.notify_all();
    }
    if (stopping_) break;
    if (n > 0) continue;
    if (files_.empty()) {
      // Nothing can arrive for a recording that is not open: sleep until open().
      wake_.wait(lock, [&] { return stopping_ || !files_.empty() || !closing_.empty(); });
    } else {
      auto now = std::chrono::steady_clock::now();
      if (now - lastFlush >= kFlushInterval) {
        lastFlush = now;
        for (auto& f : files_) std::fflush(f.second.fp);
      }
      wake_.wait_for(lock, kPollInterval);
    }
  }
  for (auto& f : files_) std::fclose(f.second.fp);
  files_.clear();
  closesDone_ = closeRequests_;
  done_.notify_all();
}

void Recorder::write(File& f, const RecordRing::Packet& p) {
  // The headers a capture of the datagram would show: [Ethernet] IP UDP.
  uint8_t hdr[14 + 40 + 8];
  size_t at = 0;
  bool v6 = p.src->af() == AF_INET6;
  if (f.eth) {
    std::memset(hdr, 0, 12);
    putBe16(hdr + 12, v6 ? 0x86dd : 0x0800);
    at = 14;
  }
  uint16_t udpLen = static_cast<uint16_t>(8 + p.len);
  if (v6) {
    uint8_t* ip = hdr + at;
    std::memset(ip, 0, 40);
    ip[0] = 0x60;
    putBe16(ip + 4, udpLen);
    ip[6] = 17;  // UDP
    ip[7] = 64;  // hop limit
    std::memcpy(ip + 8, &p.src->u.v6.sin6_addr, 16);
    std::memcpy(ip + 24, &p.dst->u.v6.sin6_addr, 16);
    at += 40;
  } else {
    uint8_t* ip = hdr + at;
    std::memset(ip, 0, 20);
    ip[0] = 0x45;
    putBe16(ip + 2, static_cast<uint16_t>(20 + udpLen));
    ip[8] = 64;  // TTL
    ip[9] = 17;  // UDP
    std::memcpy(ip + 12, &p.src->u.v4.sin_addr, 4);
    std::memcpy(ip + 16, &p.dst->u.v4.sin_addr, 4);
    putBe16(ip + 10, ipChecksum(ip, 20));
    at += 20;
  }
  uint8_t* udp = hdr + at;
  putBe16(udp, p.src->port());
  putBe16(udp + 2, p.dst->port());
  putBe16(udp + 4, udpLen);
  putBe16(udp + 6, 0);  // no checksum
  at += 8;
  uint32_t total = static_cast<uint32_t>(at + p.len);
  PcapRecord r{static_cast<uint32_t>(p.unixUs / 1000000), static_cast<uint32_t>(p.unixUs % 1000000), total, total};
  std::fwrite(&r, sizeof(r), 1, f.fp);
  std::fwrite(hdr, at, 1, f.fp);
  std::fwrite(p.data, p.len, 1, f.fp);
  f.packets++;
}

}  // namespace rtpe
