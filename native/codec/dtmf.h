// In-band DTMF: a tone generator and a tone detector over spandsp, for the
// transcoding path (events of a peer with telephone-event turned into tones for
// a peer without it, and the other way round), plus the RFC 4733 event codes.
//
// spandsp works at 8000 Hz mono; at any other rate the generator and the
// detector resample through their own Resampler.
//
// Threads. init() runs on the JavaScript thread and allocates everything;
// the rest runs on the engine thread that owns the stream, never blocks and
// allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "resampler.h"

struct dtmf_tx_state_s;
struct dtmf_rx_state_s;

namespace rtpe {
namespace codec {

// RFC 4733 event code (0-15) of a DTMF character ('0'-'9', '*', '#', 'A'-'D'),
// -1 for anything else; and the character of an event code, 0 if none.
int dtmfEventOf(char digit);
char dtmfDigitOf(int event);

class DtmfGenerator {
 public:
  DtmfGenerator() = default;
  ~DtmfGenerator();
  DtmfGenerator(const DtmfGenerator&) = delete;
  DtmfGenerator& operator=(const DtmfGenerator&) = delete;

  // Prepares tones at sampleRate (mono); maxSamples: the most one generate()
  // call is asked for. JavaScript thread.
  bool init(int sampleRate, int maxSamples, std::string& err);
  // Starts a tone for event code 0-15 at volumeDbm0 (0 loudest .. 63) lasting
  // durationMs (0: until stop() or the next start()). Returns false for an
  // unknown event code.
  bool start(int event, int volumeDbm0, int durationMs);
  void stop();
  bool active() const { return active_; }
  // Writes n samples of the tone (silence once it is over) to out.
  void generate(int16_t* out, int n);

 private:
  dtmf_tx_state_s* tx_ = nullptr;
  Resampler up_;  // 8000 Hz -> sampleRate
  std::unique_ptr<int16_t[]> buf_;
  int rate_ = 8000;
  int maxSamples_ = 0;
  bool active_ = false;
};

class DtmfDetector {
 public:
  DtmfDetector() = default;
  ~DtmfDetector();
  DtmfDetector(const DtmfDetector&) = delete;
  DtmfDetector& operator=(const DtmfDetector&) = delete;

  // Prepares detection in audio at sampleRate with `channels` interleaved
  // channels (the first is listened to); maxSamples per detect() call.
  // JavaScript thread.
  bool init(int sampleRate, int channels, int maxSamples, std::string& err);
  // Listens to n samples (per channel, at most maxSamples) and returns the
  // RFC 4733 code of the digit heard at their end, -1 if none. Never blocks.
  int detect(const int16_t* pcm, int n);
  // The level of the current digit, as an RFC 4733 volume (0-63, -dBm0).
  int volume() const { return volume_; }

 private:
  static void onTone(void* self, int code, int level, int delay);
  dtmf_rx_state_s* rx_ = nullptr;
  Resampler down_;  // sampleRate -> 8000 Hz mono
  std::unique_ptr<int16_t[]> buf_;
  int rate_ = 8000, channels_ = 1, maxSamples_ = 0;
  int current_ = -1;
  int volume_ = 10;
};

}  // namespace codec
}  // namespace rtpe
