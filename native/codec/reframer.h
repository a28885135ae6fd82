// A FIFO of interleaved S16 samples that turns decoded audio of any length
// into frames of the output packet size (ptime). Fixed capacity, allocated at
// construction; push and pop never allocate.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

namespace rtpe {
namespace codec {

class Reframer {
 public:
  // capacity: samples per channel.
  void init(int capacity, int channels) {
    cap_ = capacity;
    ch_ = channels;
    buf_.reset(new int16_t[static_cast<size_t>(capacity) * channels]());
    len_ = 0;
  }
  int size() const { return len_; }
  int space() const { return cap_ - len_; }
  // Appends n samples per channel; returns how many fit.
  int push(const int16_t* in, int n) {
    if (n > space()) n = space();
    std::memcpy(buf_.get() + static_cast<size_t>(len_) * ch_, in, static_cast<size_t>(n) * ch_ * sizeof(int16_t));
    len_ += n;
    return n;
  }
  // Appends n samples of silence.
  int pushSilence(int n) {
    if (n > space()) n = space();
    std::memset(buf_.get() + static_cast<size_t>(len_) * ch_, 0, static_cast<size_t>(n) * ch_ * sizeof(int16_t));
    len_ += n;
    return n;
  }
  // The oldest n samples, valid until the next push or pop.
  const int16_t* peek() const { return buf_.get(); }
  // Drops the oldest n samples.
  void pop(int n) {
    if (n >= len_) {
      len_ = 0;
      return;
    }
    std::memmove(buf_.get(), buf_.get() + static_cast<size_t>(n) * ch_,
                 static_cast<size_t>(len_ - n) * ch_ * sizeof(int16_t));
    len_ -= n;
  }
  void clear() { len_ = 0; }

 private:
  std::unique_ptr<int16_t[]> buf_;
  int cap_ = 0, ch_ = 1, len_ = 0;
};

}  // namespace codec
}  // namespace rtpe
