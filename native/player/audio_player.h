// The audio player: a party's outgoing audio produced by a mix buffer instead
// of forwarded packet by packet (--audio-player, the `audio-player=` key).
//
//   forwarded RTP --decode/resample (Transcoder to L16)--+
//                                                        +--> MixBuffer --> L16 every ptime
//   played media (a PCM PlayList, player.h) -------------+        --encode (Transcoder from L16)--> RTP out
//
// The stream whose received packets go to the party owns it (Stream::audio).
// Each source writes its samples into the buffer at its own position, added
// to what is there (saturating); a source that starts, or comes back after it
// fell behind the read position, starts audio-buffer-delay ms ahead of it,
// which absorbs jitter. Every ptime the oldest packet's worth of samples is
// read (and cleared), wrapped into a linear RTP packet and given to the
// encoder, so the party receives one RTP stream with steady pacing and
// continuous sequence numbers and timestamps, whether anything is forwarded,
// played, both or neither (then silence).
//
// The mix runs at the rate the party's encoder takes (player::pcmRateFor), so
// only the inputs are resampled.
//
// Threads. create() runs on the JavaScript thread and allocates everything
// (the ring, the Transcoders, the packet buffer). Everything else runs on the
// engine thread that owns the stream; nothing there blocks or allocates
// beyond what the codec libraries do (see codec/codec.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../codec/transcoder.h"

namespace rtpe {
namespace player {

// A ring of mixed samples (mono S16), positions counted in samples since the
// start. Engine thread only.
class MixBuffer {
 public:
  // One contributor: where its next sample goes.
  struct Source {
    bool active = false;
    int64_t writePos = 0;
  };
  void init(size_t samples, size_t delaySamples);
  // Adds n samples (big-endian S16, as in an L16 payload) from src.
  // Samples that do not fit before the read position wraps are dropped;
  // returns false then.
  bool write(Source& src, const uint8_t* be, size_t n);
  // Takes the n samples at the read position (big-endian into out) and
  // clears them for the next round.
  void read(uint8_t* out, size_t n);
  // Skips n samples of output (after the engine thread fell behind).
  void skip(size_t n);
  int64_t readPos() const { return readPos_; }
  // Samples src has written that are not read yet.
  int64_t pending(const Source& src) const { return src.active ? src.writePos - readPos_ : 0; }

 private:
  std::unique_ptr<int16_t[]> ring_;
  size_t size_ = 0;
  size_t delay_ = 0;
  int64_t readPos_ = 0;
};

struct AudioPlayerSpec {
  std::vector<codec::CodecSpec> inputs;  // what the stream receives, each with its payload type
  codec::CodecSpec out;                  // what the party receives
  int bufferMs = 500;                    // --audio-buffer-length
  int delayMs = 5;                       // --audio-buffer-delay
  // Engaged for a playback only (--audio-player=play-media): detached once
  // no playback is attached and what it played has been sent.
  bool transient = false;
};

class AudioPlayer {
 public:
  // Returns null with err naming the problem (a codec that cannot be built,
  // a buffer shorter than two packets). Runs on the JavaScript thread.
  static std::shared_ptr<AudioPlayer> create(const AudioPlayerSpec& spec, std::string& err);
  AudioPlayer(const AudioPlayer&) = delete;
  AudioPlayer& operator=(const AudioPlayer&) = delete;

  const AudioPlayerSpec& spec() const { return spec_; }
  // The mix rate: played media must be PCM at this rate.
  int rate() const { return rate_; }
  bool started() const { return started_; }

  // Starts the output at nowMs, continuing the RTP stream the party saw
  // (ssrc, seq and ts of the first packet). Engine thread.
  void start(int64_t nowMs, uint32_t ssrc, uint16_t seq, uint32_t ts);
  // A forwarded RTP packet. Returns false when it was not mixed in full:
  // its payload type is none of the inputs, or the buffer had no room for
  // its audio (a source running ahead of real time); the caller counts it as
  // dropped. Engine thread; never blocks.
  bool input(const uint8_t* pkt, size_t len, int64_t nowMs);
  // Samples of a playback (big-endian S16 at rate()). Engine thread.
  void play(const uint8_t* be, size_t len) { buf_.write(play_, be, len / 2); }
  // Sends every output packet due by nowMs to out. Engine thread; never blocks.
  void tick(int64_t nowMs, codec::RtpSink& out);
  // While a playback replaces the stream's output (RFC 4733 DTMF), the mix
  // keeps its pace but nothing is encoded; resume() continues the RTP stream
  // the party saw meanwhile (ssrc, seq and ts of the next packet).
  void hold() { held_ = true; }
  bool held() const { return held_; }
  void resume(uint32_t ssrc, uint16_t seq, uint32_t ts) {
    held_ = false;
    enc_->continueOutput(ssrc, seq, ts);
  }
  // When the next output packet is due (monotonic ms).
  int64_t nextDueMs() const { return nextDueMs_; }
  // A playback was attached to its stream (Relay::setPlayer). A transient
  // audio player is engaged just before its playback, in a separate command:
  // it lets go only once it has had one.
  void playbackAttached() { hadPlayback_ = true; }
  // A transient audio player whose playbacks are over and sent.
  bool finished() const { return spec_.transient && hadPlayback_ && buf_.pending(play_) <= 0; }
  // Where the output's timeline is at nowMs (the encoder's clock), for the
  // forwarded packets that follow when it is detached.
  uint32_t tsAt(int64_t nowMs) const;
  uint32_t outClock() const { return spec_.out.clockRate; }

 private:
  AudioPlayer() = default;
  // Collects an input Transcoder's L16 packets into the forwarded source.
  class Collect : public codec::RtpSink {
   public:
    explicit Collect(AudioPlayer& p) : p_(p) {}
    void send(const uint8_t* packet, size_t len) override;

   private:
    AudioPlayer& p_;
  };

  AudioPlayerSpec spec_;
  int rate_ = 8000;
  size_t chunk_ = 160;  // samples per output packet
  MixBuffer buf_;
  MixBuffer::Source fwd_, play_;
  std::vector<std::unique_ptr<codec::Transcoder>> decoders_;
  int8_t byPt_[128];
  std::unique_ptr<codec::Transcoder> enc_;
  std::unique_ptr<uint8_t[]> pkt_;  // the linear packet given to the encoder
  Collect collect_{*this};
  bool fwdOverflow_ = false;  // the current input packet's audio did not fit
  bool started_ = false;
  bool hadPlayback_ = false;
  bool held_ = false;
  int64_t startMs_ = 0;
  int64_t nextDueMs_ = 0;
  uint64_t chunks_ = 0;  // output packets made
  uint16_t inSeq_ = 0;
};

}  // namespace player
}  // namespace rtpe
