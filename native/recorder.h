// Call recording into pcap files (--recording-method pcap).
//
// The packet path never touches a file. Each engine thread owns a RecordRing:
// a single-producer, single-consumer byte ring into which the relay copies
// every packet of a recorded stream, with its time and addresses. The
// Recorder's own thread (rtpe-recorder) drains the rings into one buffered pcap
// file per recording, adding the IPv4/IPv6 and UDP headers (and a blank
// Ethernet header in the `eth` format) that the capture format expects. A full
// ring drops the packet and counts it; nothing waits.
//
// Files are opened and closed from the JavaScript thread: open() creates the
// file and writes its global header synchronously (so that an unwritable
// directory is reported to the caller), close() waits until the writer thread
// has written what the rings held so far for that recording and closed the
// file (a few milliseconds at most). Recordings are identified by a number
// the caller picks (non-zero), which streams carry in their MediaControl.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "socket.h"

namespace rtpe {

class RecordRing {
 public:
  explicit RecordRing(size_t capacity);
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  // Copies one packet into the ring. Returns false (and counts it) when the
  // ring has no room. Runs on the ring's engine thread only; never blocks.
  bool push(uint32_t recording, int64_t unixUs, const SockAddr& src, const SockAddr& dst, const uint8_t* data,
            uint32_t len);

  // One queued packet, valid until the callback returns.
  struct Packet {
    uint32_t recording;
    int64_t unixUs;
    const SockAddr* src;
    const SockAddr* dst;
    const uint8_t* data;
    uint32_t len;
  };
  // Hands every queued packet to f, oldest first, and frees them. Returns how
  // many there were. Runs on the recorder thread only.
  template <class F>
  size_t drain(F&& f);

  std::atomic<uint64_t> dropped{0};

 private:
  struct Header {
    uint32_t size;       // of the whole record, header included, a multiple of 8
    uint32_t recording;  // 0: padding up to the end of the buffer
    int64_t unixUs;
    SockAddr src;
    SockAddr dst;
    uint32_t len;
  };
  std::unique_ptr<uint8_t[]> buf_;
  const size_t cap_;
  alignas(64) std::atomic<size_t> head_{0};  // bytes ever written (producer)
  alignas(64) std::atomic<size_t> tail_{0};  // bytes ever freed (consumer)
};

template <class F>
size_t RecordRing::drain(F&& f) {
  size_t n = 0;
  size_t tail = tail_.load(std::memory_order_relaxed);
  size_t head = head_.load(std::memory_order_acquire);
  while (tail != head) {
    const Header* h = reinterpret_cast<const Header*>(buf_.get() + tail % cap_);
    if (h->recording != 0) {
      Packet p{h->recording, h->unixUs, &h->src, &h->dst, reinterpret_cast<const uint8_t*>(h + 1), h->len};
      f(p);
      n++;
    }
    tail += h->size;
  }
  tail_.store(tail, std::memory_order_release);
  return n;
}

class Recorder {
 public:
  // One ring per engine thread, ringBytes each.
  Recorder(unsigned rings, size_t ringBytes);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  RecordRing* ring(unsigned i) { return rings_[i].get(); }

  // Creates the pcap file of a recording (raw IP packets, or with a blank
  // Ethernet header when eth) and starts the writer thread if needed. Returns
  // 0 or an errno value. Runs on the JavaScript thread.
  int open(uint32_t recording, const std::string& path, bool eth);
  // Writes what the rings hold for the recording and closes its file;
  // unknown ids are ignored. Runs on the JavaScript thread; waits for the
  // writer thread (one drain pass).
  void close(uint32_t recording);
  // Packets written to the recording's file so far, 0 if unknown. Runs on
  // any thread.
  uint64_t written(uint32_t recording);
  // Packets lost because a ring was full or their recording was closed.
  uint64_t dropped();
  // Closes every file and stops the thread. Idempotent. Call after the
  // engine threads have stopped.
  void stop();

 private:
  struct File {
    FILE* fp = nullptr;
    bool eth = false;
    uint64_t packets = 0;
  };
  void run();
  void write(File& f, const RecordRing::Packet& p);

  std::vector<std::unique_ptr<RecordRing>> rings_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::unordered_map<uint32_t, File> files_;  // guarded by mu_
  std::vector<uint32_t> closing_;             // guarded by mu_
  uint64_t closeRequests_ = 0;                // guarded by mu_
  uint64_t closesDone_ = 0;                   // guarded by mu_
  std::atomic<uint64_t> orphans_{0};          // packets of no open recording
  bool running_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rtpe
