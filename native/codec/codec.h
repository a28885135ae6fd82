// The codec layer: one Decoder and one Encoder abstraction over every backend
// (libavcodec, bcg729, libopus, internal), and the description of one side of a
// transcoded stream (CodecSpec), which comes from the codec table
// (codecs/codecs.json through src/codec/table.ts).
//
// Audio between the stages is interleaved signed 16-bit PCM.
//
// Threads. Decoders and encoders are created on the JavaScript thread (they
// allocate) and then used by one engine thread only. decode(), conceal() and
// encode() never block and allocate nothing of their own; libavcodec's
// send/receive API does make a few small internal allocations per frame
// (reference-count wrappers), which no public API of FFmpeg 5 avoids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rtpe {
namespace codec {

// How an RTP payload is split into codec frames and built from them (see
// packetizer.h).
enum class Packetizer : uint8_t {
  Samples,  // a flat sample stream (G.711, G.722, L16): any length
  Frames,   // fixed-size frames back to back (GSM)
  Whole,    // the payload is one frame (speex, QCELP)
  G723,     // frame size in the first byte of each frame
  G729,     // 10-byte frames, optional 2-byte SID last
  Ilbc,     // 38-byte (20 ms) or 50-byte (30 ms) frames
  Amr,      // RFC 4867: CMR, table of contents, frames (AMR and AMR-WB)
  Opus,     // one Opus packet (RFC 7587)
  None,     // no RTP definition
};

bool parsePacketizer(const std::string& s, Packetizer& out);

// One side of a transcoded stream, as negotiated. Mirrors NativeCodecSpec in
// src/codec/table.ts.
struct CodecSpec {
  std::string name;      // SDP encoding name ("PCMA", "AMR-WB", ...)
  std::string decoder;   // backend: "ffmpeg:<name>", "bcg729", "libopus", "internal:<name>", "" = none
  std::string encoder;
  Packetizer packetizer = Packetizer::Samples;
  uint32_t clockRate = 8000;   // RTP clock
  uint32_t sampleRate = 8000;  // the codec's audio rate (opus: chosen per graph)
  uint8_t channels = 1;        // rtpmap channels (opus: 2)
  uint8_t payloadType = 0;
  uint16_t ptime = 20;         // output packetization, ms
  uint16_t frameMs = 0;        // one codec frame, 0 for sample streams
  int bitrate = 0;             // 0 = the codec's default
  std::string fmtp;
  int complexity = -1;         // opus; -1 = library default
};

// Format parameters of an fmtp string ("a=1;b=2" or "a=1; b=2"). get()
// returns false if the key is absent.
class Fmtp {
 public:
  explicit Fmtp(const std::string& s) : s_(s) {}
  bool get(const char* key, std::string& value) const;
  int getInt(const char* key, int dflt) const;

 private:
  std::string s_;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  int sampleRate() const { return rate_; }
  int channels() const { return channels_; }
  // Upper bound of the samples (per channel) one decode() call produces.
  int maxFrameSamples() const { return maxFrame_; }

  // Decodes one codec frame (as split by the depacketizer) into out, which has
  // room for cap samples per channel. Returns the samples per channel written,
  // 0 when the frame produced none, -1 when it was not decodable.
  // Runs on an engine thread; never blocks.
  virtual int decode(const uint8_t* data, size_t len, int16_t* out, int cap) = 0;

  // Produces up to `samples` samples of concealment for lost audio (the
  // decoder's own PLC). Returns what was written, 0 if the decoder has none
  // (the caller then uses generic concealment or silence).
  virtual int conceal(int samples, int16_t* out) {
    (void)samples;
    (void)out;
    return 0;
  }
  // Fills a discontinuous-transmission gap after the codec's own SID frame
  // (AMR, G.729 annex B): comfort noise by the codec. 0 if it has none.
  virtual int dtx(int samples, int16_t* out) {
    (void)samples;
    (void)out;
    return 0;
  }
  // Recovers the audio just before this packet from its in-band FEC (Opus).
  // Returns samples written, 0 if unavailable.
  virtual int recover(const uint8_t* data, size_t len, int samples, int16_t* out) {
    (void)data;
    (void)len;
    (void)samples;
    (void)out;
    return 0;
  }
  virtual bool hasConcealment() const { return false; }

 protected:
  int rate_ = 8000;
  int channels_ = 1;
  int maxFrame_ = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  int sampleRate() const { return rate_; }
  int channels() const { return channels_; }
  // Samples per channel each encode() call takes.
  int frameSamples() const { return frame_; }

  // Encodes exactly frameSamples() samples per channel. Returns the bytes
  // written to out (at most cap), 0 when there is nothing to send (DTX), -1 on
  // failure. Runs on an engine thread; never blocks.
  virtual int encode(const int16_t* in, uint8_t* out, size_t cap) = 0;

 protected:
  int rate_ = 8000;
  int channels_ = 1;
  int frame_ = 160;
};

// Creation parameters common to decoders and encoders.
struct CodecParams {
  const CodecSpec* spec = nullptr;
  int sampleRate = 8000;  // audio rate to run at
  int channels = 1;       // audio channels to run with
  int frameSamples = 0;   // encoder: samples per channel per call (0 = codec's choice)
  int mode = 0;           // codec-specific (iLBC: 20 or 30 ms)
};

// Creates the decoder or encoder of a backend. On failure returns null and
// sets err. Runs on the JavaScript thread; allocates.
std::unique_ptr<Decoder> makeDecoder(const CodecParams& p, std::string& err);
std::unique_ptr<Encoder> makeEncoder(const CodecParams& p, std::string& err);

// Whether a backend is usable in this process for one direction, from what the
// linked libraries provide at run time ("ffmpeg:g722", "bcg729", ...).
bool backendAvailable(const std::string& backend, bool encode);

// Backend factories (one per file).
std::unique_ptr<Decoder> makeInternalDecoder(const std::string& name, const CodecParams& p, std::string& err);
std::unique_ptr<Encoder> makeInternalEncoder(const std::string& name, const CodecParams& p, std::string& err);
std::unique_ptr<Decoder> makeAvDecoder(const std::string& name, const CodecParams& p, std::string& err);
std::unique_ptr<Encoder> makeAvEncoder(const std::string& name, const CodecParams& p, std::string& err);
bool avAvailable(const std::string& name, bool encode);
std::unique_ptr<Decoder> makeG729Decoder(const CodecParams& p, std::string& err);
std::unique_ptr<Encoder> makeG729Encoder(const CodecParams& p, std::string& err);
bool g729Available();
std::unique_ptr<Decoder> makeOpusDecoder(const CodecParams& p, std::string& err);
std::unique_ptr<Encoder> makeOpusEncoder(const CodecParams& p, std::string& err);
bool opusAvailable();
// The rates libopus runs at.
bool opusRate(int rate);

}  // namespace codec
}  // namespace rtpe
