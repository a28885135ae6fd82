// libswresample wrapper (see resampler.h).
#include "resampler.h"

#include <cstring>
#include <vector>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace rtpe {
namespace codec {

Resampler::~Resampler() { swr_free(&swr_); }

bool Resampler::open(int inRate, int inChannels, int outRate, int outChannels, int maxIn, std::string& err) {
  inChannels_ = inChannels;
  outChannels_ = outChannels;
  maxOut_ = static_cast<int>((static_cast<int64_t>(maxIn) * outRate + inRate - 1) / inRate) + 64;
  if (inRate == outRate && inChannels == outChannels) return true;  // nothing to do
  AVChannelLayout inLayout, outLayout;
  av_channel_layout_default(&inLayout, inChannels);
  av_channel_layout_default(&outLayout, outChannels);
  int rc = swr_alloc_set_opts2(&swr_, &outLayout, AV_SAMPLE_FMT_S16, outRate, &inLayout, AV_SAMPLE_FMT_S16, inRate, 0,
                               nullptr);
  if (rc < 0 || !swr_ || swr_init(swr_) < 0) {
    err = "cannot set up the resampler";
    swr_free(&swr_);
    return false;
  }
  // Warm up with the largest input (silence) so that swresample sizes its
  // buffers now rather than on the packet path. What stays in its delay line is
  // silence, as after a fresh start.
  std::vector<int16_t> in(static_cast<size_t>(maxIn) * inChannels), out(static_cast<size_t>(maxOut_) * outChannels);
  for (int i = 0; i < 3; i++) convert(in.data(), maxIn, out.data(), maxOut_);
  return true;
}

int Resampler::convert(const int16_t* in, int n, int16_t* out, int cap) {
  if (!swr_) {
    int m = n < cap ? n : cap;
    std::memcpy(out, in, static_cast<size_t>(m) * inChannels_ * sizeof(int16_t));
    return m;
  }
  const uint8_t* inPlanes[1] = {reinterpret_cast<const uint8_t*>(in)};
  uint8_t* outPlanes[1] = {reinterpret_cast<uint8_t*>(out)};
  int rc = swr_convert(swr_, outPlanes, cap, inPlanes, n);
  return rc < 0 ? 0 : rc;
}

}  // namespace codec
}  // namespace rtpe
