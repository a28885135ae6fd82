// A Transcoder: one direction of one stream, one codec pair.
//
//   RTP in -> depacketize -> decode (gaps: the decoder's concealment, generic
//   PLC, comfort noise or silence) -> resample / up- or down-mix -> re-frame
//   to the output ptime -> encode -> packetize -> RTP out
//
// Output RTP has its own sequence numbers (continuous), timestamps in the
// output codec's clock (advancing by exactly one packet's worth per packet,
// and jumping over gaps that are too long to fill), the marker bit on the first
// packet, after a resynchronisation and on the packet that starts an input
// talkspurt, and the input's SSRC unless one is configured.
//
// How the relay uses it. Signalling creates the Transcoder on the JavaScript
// thread (Transcoder::create allocates everything: codec contexts, buffers)
// and hands it to the engine thread that owns the stream. For each RTP packet
// received on the stream whose payload type is the input codec's (or the
// input CN type), the engine thread calls input(); input() returns false for
// any other payload type, which the relay forwards or drops itself
// (telephone-event, RTCP is never given). Every packet the Transcoder
// produces is handed synchronously to the RtpSink (valid only during the
// call: send or copy it). The engine thread's timer calls tick() every 10-20
// ms so that comfort noise keeps flowing during discontinuous transmission.
// With a DTX buffer (spec.dtx.buffered, dtx.h) input() only copies the packet
// into the buffer; tick() decodes it when the buffer's timer releases it and
// fills the timer steps that find no packet, and nextDueMs() tells the
// caller when to tick next.
//
// DTMF (dtmf.h): with spec.tones the route hands it the telephone-event
// packets the sink's peer cannot take (inputEvent), played as tones in place
// of the audio; with spec.outEventPt it listens to the decoded audio and sends
// the digits it hears as RFC 4733 events in the output stream. While DTMF is
// blocked (blockDtmf) it listens too, but replaces the audio of a digit it
// hears with silence and sends no events for it. Either way each digit heard
// is reported once, when it ends (takeDigit). The detector needs about 40 ms
// of a tone: that much of its start passes before the silence begins.
//
// Threads: one engine thread at a time calls input(), tick() and stats().
// Neither input() nor tick() blocks or allocates (see codec.h about
// libavcodec's internal allocations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cn.h"
#include "codec.h"
#include "dtmf.h"
#include "../dtmf_events.h"
#include "dtx.h"
#include "packetizer.h"
#include "reframer.h"
#include "resampler.h"

namespace rtpe {
namespace codec {

struct GenericPlc;

class RtpSink {
 public:
  virtual ~RtpSink() = default;
  // A complete RTP packet (header and payload); the buffer is reused after
  // the call returns. Runs on the engine thread.
  virtual void send(const uint8_t* packet, size_t len) = 0;
};

struct TranscoderSpec {
  CodecSpec in;
  CodecSpec out;
  int inCnPt = -1;         // RFC 3389 CN payload type accepted on input, -1 = none
  int outCnPt = -1;        // RFC 3389 CN payload type of the output peer, -1 = none
  int silenceDbov = -1;    // with outCnPt: packets quieter than -silenceDbov dBov
                           // are sent as CN (--silence-detect); -1 = off
  int64_t ssrc = -1;       // output SSRC; -1 = the input's
  int64_t startSeq = -1;   // first output sequence number; -1 = the input's
  int64_t startTs = -1;    // first output timestamp; -1 = the input's. With ssrc,
                           // these continue an output stream across a codec
                           // change (from the previous Transcoder's next*()).
  int maxGapMs = 1000;     // longer gaps between two packets are skipped, not filled
  int maxDtxMs = 30000;    // tick() generates comfort noise for at most this long
  int dtxDelayMs = 60;     // tick() starts filling this long after audio is due; with
                           // dtx.buffered, the DTX buffer's delay
  DtxOptions dtx;          // the DTX buffer, gap and silence payloads (dtx.h)
  // DTMF. outEventPt >= 0: digits heard in the decoded input are sent as RFC
  // 4733 events of this type (clock outEventClock) in the output stream;
  // with suppressDtmf the audio they cover is left out. tones: inputEvent()
  // plays events received on the input as in-band tones.
  int outEventPt = -1;
  uint32_t outEventClock = 8000;
  bool suppressDtmf = true;
  bool tones = false;
};

struct TranscoderStats {
  uint64_t packetsIn = 0;       // packets accepted by input()
  uint64_t packetsOut = 0;
  uint64_t bytesOut = 0;
  uint64_t framesDecoded = 0;
  uint64_t framesEncoded = 0;
  uint64_t errors = 0;          // malformed RTP or undecodable payloads
  uint64_t dropped = 0;         // late or duplicate packets
  uint64_t cnIn = 0;            // RFC 3389 packets received
  uint64_t cnOut = 0;           // RFC 3389 packets sent for silent audio
  uint64_t concealedSamples = 0;  // decoder rate, samples per channel
  uint64_t resyncs = 0;
  uint64_t dtmfDetected = 0;    // digits heard in the input and sent as events
  uint64_t dtmfPlayed = 0;      // events played as in-band tones
  uint64_t dtxGaps = 0;         // DTX buffer steps without a packet (filled)
  uint64_t dtxShifts = 0;       // DTX buffer timer moves
  uint64_t nsDecode = 0;        // time spent decoding (incl. concealment)
  uint64_t nsEncode = 0;        // time spent encoding
  uint64_t nsTotal = 0;         // time spent in input() and tick()
};

class Transcoder {
 public:
  // Builds the graph. Returns null with err set when a codec is missing or a
  // parameter is unusable. Runs on the JavaScript thread; allocates.
  static std::unique_ptr<Transcoder> create(const TranscoderSpec& spec, std::string& err);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  // Feeds one RTP packet received at nowMs (monotonic). Returns false if its
  // payload type is neither the input codec's nor the input CN type (the
  // packet is left to the caller). Runs on the engine thread; never blocks.
  bool input(const uint8_t* packet, size_t len, int64_t nowMs, RtpSink& out);

  // Plays one RFC 4733 event packet of the input (already parsed; duration
  // in the input codec's clock) as an in-band tone: the tone runs up to the
  // event's duration, so the packets of one event extend it and the repeated
  // end packets add nothing. Needs spec().tones. Runs on the engine thread;
  // never blocks.
  void inputEvent(uint32_t ssrc, uint16_t seq, uint32_t ts, int event, int volume, uint32_t duration, bool end,
                  int64_t nowMs, RtpSink& out);

  // Generates comfort noise when the input is in discontinuous transmission
  // (after a CN packet or a codec SID frame) and audio is overdue. With the
  // DTX buffer: runs its timer steps that are due (decodes the packets,
  // fills the gaps). Runs on the engine thread; never blocks.
  void tick(int64_t nowMs, RtpSink& out);
  // When tick() has work next (monotonic ms); INT64_MAX when only the
  // caller's regular period matters.
  int64_t nextDueMs() const;

  const TranscoderStats& stats() const { return stats_; }
  const TranscoderSpec& spec() const { return spec_; }
  // Its input goes through a DTX buffer (decoded by tick()).
  bool buffered() const { return spec_.dtx.buffered; }
  // The audio rates and channels chosen for the two codecs.
  int decoderRate() const { return decRate_; }
  int encoderRate() const { return encRate_; }
  int encoderChannels() const { return encChannels_; }
  // Samples (per channel, at the encoder's rate) in one output packet.
  int packetSamples() const { return packetSamples_; }
  // The next output sequence number and timestamp (valid once started()).
  bool started() const { return started_; }
  uint16_t nextSeq() const { return outSeq_; }
  uint32_t nextTs() const { return outTs_; }
  uint32_t outputSsrc() const { return outSsrc_; }
  // The input timestamp the next packet is expected at (valid once started()).
  uint32_t expectedInputTs() const { return nextTs_; }
  // The output timestamp of the audio at input timestamp inTs on the current
  // timeline (valid once started()): the audio decoded so far maps to the
  // output packets sent plus the partial packet being built, and the
  // difference to inTs is scaled from the input clock to the output clock.
  // A passthrough payload type on the input's timeline (telephone-event)
  // gets its timestamp from here. Never blocks.
  uint32_t outputTsOf(uint32_t inTs) const;

  // Makes the next input packet start the output anew (as the first packet
  // does) with this SSRC, sequence number and timestamp: used by the relay
  // when this Transcoder takes over an output stream from another one (a
  // codec change) or when its input comes back after other packets covered
  // part of its timeline. Drops the partial output packet and the input
  // state; keeps the codec contexts. Runs on the engine thread; never blocks.
  void continueOutput(uint32_t ssrc, uint16_t seq, uint32_t ts);

  // Input packets were dropped on purpose (block media): the next one starts
  // a new input timeline, its gap neither concealed nor skipped in the
  // output, which continues where it stopped. Runs on the engine thread.
  void interrupt() { interrupted_ = true; }

  // Removes the DTMF digits heard in the decoded audio from the output (see
  // above), from the next input on. Runs on the engine thread.
  void blockDtmf(bool on) { blockDtmf_ = on; }
  // A digit heard in the input audio that ended since the last call: returns
  // true and fills out once per digit. Runs on the engine thread.
  bool takeDigit(DigitEnd& out) {
    if (!digitEnded_) return false;
    digitEnded_ = false;
    out = ended_;
    return true;
  }

 private:
  // What fills missing input: concealment after audio, RFC 3389 noise after a
  // CN packet, the codec's comfort noise after its SID, and the generic DTX
  // filler (--dtx-cn-params noise, or silence) in DTX buffer gaps and after
  // an AMR SID with --amr-dtx=CN.
  enum class InState : uint8_t { Audio, Cn, Sid, Dtx };
  Transcoder() = default;
  bool build(std::string& err);

  // Decodes one packet (input() without the DTX buffer).
  void decodePacket(const uint8_t* packet, size_t len, int64_t nowMs, RtpSink& out);
  // One DTX buffer timer step at nowMs.
  void dtxStep(int64_t nowMs, RtpSink& out);
  // Copies the DTX buffer's counters into stats_ (its discards count as dropped).
  void syncDtxStats();
  // --amr-dtx=CN applies to this AMR input: as in the reference, only
  // together with --dtx-cn-params (without them AMR keeps its own DTX).
  bool amrCn() const {
    return spec_.dtx.amrCn && dtxCn_.active() && spec_.in.packetizer == Packetizer::Amr;
  }
  // Fills one frame of n samples with the generic DTX filler.
  int dtxFill(int16_t* buf, int n);
  void start(uint32_t ssrc, uint16_t seq, uint32_t ts);
  void resync(int64_t gapClock);
  // Fills `samples` (decoder rate) of missing input according to the input
  // state: concealment after audio (Opus: the last part recovered from the FEC
  // data of fecPayload, the packet that ended the gap), the codec's comfort
  // noise after its SID, RFC 3389 noise after a CN packet.
  void fill(int samples, const uint8_t* fecPayload, size_t fecLen, RtpSink& out);
  // Pushes m samples a filler produced in buf (want samples of silence when it
  // produced none), at most cap; counts them as concealed and the time since
  // `since` as decoding. Returns the samples pushed.
  int pushFilled(int16_t* buf, int m, int want, int cap, uint64_t since, RtpSink& out);
  // Resamples decoded audio into the re-framer and emits every full packet.
  void push(const int16_t* pcm, int n, RtpSink& out);
  void emitPackets(RtpSink& out);
  // Sends the payload already written after the header space of pktBuf_.
  void emit(size_t len, uint8_t pt, RtpSink& out);
  // Writes the header of the payload in pktBuf_ and sends the packet.
  void send(size_t len, uint8_t pt, bool marker, uint32_t ts, RtpSink& out);
  // Before each output packet: follows the detected digit with events.
  // Returns true when the packet's audio is to be left out.
  bool dtmfStep(RtpSink& out);
  // Sends the RFC 4733 packet of the detected digit lasting up to endTs
  // (output clock); end: the three final packets.
  void emitEvent(uint32_t endTs, bool end, RtpSink& out);
  int decodeFrame(const FrameRef& f, int16_t* out, int cap);

  TranscoderSpec spec_;
  std::unique_ptr<Decoder> dec_;
  std::unique_ptr<Decoder> decAlt_;  // iLBC: the other frame mode
  std::unique_ptr<Encoder> enc_;
  Resampler resampler_;
  Reframer reframer_;
  Depacketizer depack_;
  PayloadBuilder builder_;
  CnDecoder cn_;
  CnDecoder dtxCn_;  // --dtx-cn-params (inactive: silence)
  DtxBuffer dtxb_;
  int64_t lastArrivalMs_ = 0;  // DTX buffer: the last packet's arrival
  uint64_t dtxDiscarded_ = 0;  // DTX buffer discards already counted as dropped
  std::unique_ptr<GenericPlc> plc_;  // generic concealment (8 kHz mono decoders without their own)

  int decRate_ = 8000, decChannels_ = 1;
  int encRate_ = 8000, encChannels_ = 1;
  int packetSamples_ = 160;
  int framesPerPacket_ = 1;
  uint32_t tsStep_ = 160;  // output clock units per packet
  int lastFrameSamples_ = 160;
  int ilbcMode_ = 30;  // the input's signalled iLBC mode (decAlt_ takes the other)

  std::unique_ptr<int16_t[]> decBuf_;
  int decBufSamples_ = 0;
  std::unique_ptr<int16_t[]> rsBuf_;
  int rsBufSamples_ = 0;
  std::unique_ptr<int16_t[]> monoBuf_;
  std::unique_ptr<uint8_t[]> encBuf_;
  std::unique_ptr<uint8_t[]> pktBuf_;
  static constexpr size_t kEncBuf = 8192;
  static constexpr size_t kPktBuf = 16384;

  // Input state.
  bool started_ = false;
  bool interrupted_ = false;  // see interrupt()
  uint32_t inSsrc_ = 0;
  uint16_t expectedSeq_ = 0;
  uint32_t nextTs_ = 0;  // input clock: where the next packet's audio should start
  InState state_ = InState::Audio;
  int64_t lastInputMs_ = 0;
  int64_t filledSinceInputMs_ = 0;  // ms of audio tick() generated since the last packet
  int64_t dtxMs_ = 0;
  // Output state.
  uint32_t outSsrc_ = 0;
  uint16_t outSeq_ = 0;
  uint32_t outTs_ = 0;
  bool markerPending_ = true;

  // In-band DTMF.
  // Follows the digit heard over n more samples: its start, its length, its end.
  void followDigit(int n);
  std::unique_ptr<DtmfDetector> detector_;  // listens with outEventPt or blockDtmf_
  bool blockDtmf_ = false;
  int heard_ = -1;       // the digit the detector hears now
  int digit_ = -1;       // the digit followed for its report
  int digitVolume_ = 0;
  uint64_t digitSamples_ = 0;  // decoded samples it lasted so far
  bool digitEnded_ = false;
  DigitEnd ended_;
  int sending_ = -1;     // the digit sent as events now (-1 none)
  int sendingVolume_ = 10;
  uint32_t sendingTs_ = 0;  // output timestamp where it started
  bool sendingMarker_ = false;
  std::unique_ptr<DtmfGenerator> generator_;  // with tones
  bool toneOn_ = false;     // an input event is being played
  uint32_t toneTs_ = 0;     // its input timestamp
  uint32_t toneDone_ = 0;   // input clock units played of it
  bool toneEnded_ = false;  // its end packet came (repeats are ignored)

  TranscoderStats stats_;
};

}  // namespace codec
}  // namespace rtpe
