// RFC 3389 comfort noise decoding and generation (see cn.h).
#include "cn.h"

#include <cmath>

namespace rtpe {
namespace codec {

namespace {

// Converts reflection coefficients to direct-form LPC (step-up recursion).
void reflToLpc(const double* k, int order, double* a) {
  double tmp[CnDecoder::kMaxOrder + 1];
  a[0] = 1.0;
  for (int i = 1; i <= order; i++) a[i] = 0.0;
  for (int m = 1; m <= order; m++) {
    for (int i = 1; i < m; i++) tmp[i] = a[i] + k[m - 1] * a[m - i];
    for (int i = 1; i < m; i++) a[i] = tmp[i];
    a[m] = k[m - 1];
  }
}

}  // namespace

bool CnDecoder::update(const uint8_t* data, size_t len) {
  if (len < 1) return false;
  level_ = data[0] & 0x7f;
  int order = static_cast<int>(len) - 1;
  if (order > kMaxOrder) order = kMaxOrder;
  double k[kMaxOrder];
  double residual = 1.0;
  for (int i = 0; i < order; i++) {
    k[i] = (static_cast<int>(data[1 + i]) - 127) / 128.0;
    if (k[i] > 0.995) k[i] = 0.995;
    if (k[i] < -0.995) k[i] = -0.995;
    residual *= 1.0 - k[i] * k[i];
  }
  if (order != order_) {
    for (double& m : mem_) m = 0.0;
  }
  order_ = order;
  reflToLpc(k, order, a_);
  // Output power = excitation power / prod(1 - k^2); uniform noise in [-1, 1]
  // has an RMS of 1/sqrt(3).
  double rms = 32767.0 * std::pow(10.0, -level_ / 20.0);
  gain_ = rms * std::sqrt(residual) * std::sqrt(3.0);
  have_ = true;
  return true;
}

void CnDecoder::generate(int16_t* out, int n) {
  for (int i = 0; i < n; i++) {
    seed_ = seed_ * 1664525u + 1013904223u;
    double e = (static_cast<int32_t>(seed_) / 2147483648.0) * gain_;
    // y[n] = e[n] - sum a_i y[n-i]
    double y = e;
    for (int j = 0; j < order_; j++) y -= a_[j + 1] * mem_[j];
    for (int j = order_ - 1; j > 0; j--) mem_[j] = mem_[j - 1];
    if (order_ > 0) mem_[0] = y;
    if (y > 32767.0) y = 32767.0;
    if (y < -32768.0) y = -32768.0;
    out[i] = static_cast<int16_t>(y);
  }
}

int CnEncoder::levelOf(const int16_t* in, int n) {
  if (n <= 0) return 127;
  double e = 0;
  for (int i = 0; i < n; i++) e += static_cast<double>(in[i]) * in[i];
  double rms = std::sqrt(e / n);
  if (rms < 1e-3) return 127;
  int level = static_cast<int>(std::lround(-20.0 * std::log10(rms / 32767.0)));
  if (level < 0) level = 0;
  if (level > 127) level = 127;
  return level;
}

int CnEncoder::describe(const int16_t* in, int n, uint8_t* out, size_t cap, int order) {
  if (cap < 1) return 0;
  if (order > kOrder) order = kOrder;
  if (order < 0) order = 0;
  if (static_cast<size_t>(order) + 1 > cap) order = static_cast<int>(cap) - 1;
  out[0] = static_cast<uint8_t>(levelOf(in, n));
  if (order == 0) return 1;
  // Autocorrelation and Levinson-Durbin for the reflection coefficients.
  double r[kOrder + 1];
  for (int lag = 0; lag <= order; lag++) {
    double s = 0;
    for (int i = lag; i < n; i++) s += static_cast<double>(in[i]) * in[i - lag];
    r[lag] = s;
  }
  double k[kOrder] = {};
  if (r[0] > 0) {
    r[0] *= 1.0001;  // white-noise correction keeps the recursion stable
    double a[kOrder + 1] = {1.0}, tmp[kOrder + 1];
    double err = r[0];
    for (int m = 1; m <= order; m++) {
      double acc = r[m];
      for (int i = 1; i < m; i++) acc += a[i] * r[m - i];
      double km = err > 0 ? -acc / err : 0.0;
      if (km > 0.995) km = 0.995;
      if (km < -0.995) km = -0.995;
      for (int i = 1; i < m; i++) tmp[i] = a[i] + km * a[m - i];
      for (int i = 1; i < m; i++) a[i] = tmp[i];
      a[m] = km;
      k[m - 1] = km;
      err *= 1.0 - km * km;
    }
  }
  for (int i = 0; i < order; i++) {
    long q = std::lround(k[i] * 128.0 + 127.0);
    if (q < 0) q = 0;
    if (q > 255) q = 255;
    out[1 + i] = static_cast<uint8_t>(q);
  }
  return 1 + order;
}

}  // namespace codec
}  // namespace rtpe
