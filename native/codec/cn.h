// RFC 3389 comfort noise: the payload is one level byte (the noise level in
// -dBov, 0..127; 0 dBov is the RMS of a full-scale square wave, 32767) and
// optionally reflection coefficients of an all-pole model of the noise, one
// byte each: k = (byte - 127) / 128.
//
// CnDecoder turns the latest payload into shaped noise for as long as asked;
// CnEncoder describes a frame of (silent) audio as a payload. Both allocate
// nothing and never block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtpe {
namespace codec {

class CnDecoder {
 public:
  static constexpr int kMaxOrder = 32;
  // Takes a new payload; returns false if it is empty or malformed.
  bool update(const uint8_t* data, size_t len);
  bool active() const { return have_; }
  int levelDbov() const { return level_; }
  // Generates n samples (mono) of noise at the current level and spectrum.
  void generate(int16_t* out, int n);
  void reset() { have_ = false; }
  // Scales the amplitude of the current payload's noise (until the next update()).
  void scale(double factor) { gain_ *= factor; }

 private:
  bool have_ = false;
  int level_ = 127;
  int order_ = 0;
  double a_[kMaxOrder + 1] = {1.0};  // direct-form LPC, a_[0] = 1
  double mem_[kMaxOrder] = {};       // past outputs
  double gain_ = 0;                  // excitation gain
  uint32_t seed_ = 0x12345678u;
};

class CnEncoder {
 public:
  static constexpr int kOrder = 10;
  // Describes n mono samples; writes 1 + kOrder bytes (order 0: 1 byte) to
  // out and returns the payload length.
  static int describe(const int16_t* in, int n, uint8_t* out, size_t cap, int order = kOrder);
  // The level byte (-dBov) of n samples.
  static int levelOf(const int16_t* in, int n);
};

}  // namespace codec
}  // namespace rtpe
