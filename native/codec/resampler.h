// Sample-rate and channel conversion of interleaved S16 (libswresample), for
// one direction of one stream. Created on the JavaScript thread; convert()
// runs on an engine thread, never blocks and, once warmed up at construction
// with the largest input it will see, allocates nothing.
#pragma once

#include <cstdint>
#include <string>

struct SwrContext;

namespace rtpe {
namespace codec {

class Resampler {
 public:
  Resampler() = default;
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // maxIn: the most input samples (per channel) one convert() call gets.
  bool open(int inRate, int inChannels, int outRate, int outChannels, int maxIn, std::string& err);
  // Converts n input samples per channel; writes at most cap samples per
  // channel to out and returns how many. Output lags input by the filter delay.
  int convert(const int16_t* in, int n, int16_t* out, int cap);
  // The most output samples per channel convert(maxIn) can produce.
  int maxOut() const { return maxOut_; }
  bool passthrough() const { return swr_ == nullptr; }

 private:
  SwrContext* swr_ = nullptr;
  int inChannels_ = 1, outChannels_ = 1;
  int maxOut_ = 0;
};

}  // namespace codec
}  // namespace rtpe
