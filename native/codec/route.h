// A codec route: how the RTP packets received on a stream are transformed
// before they go to its sink (CodecRoute in src/media/engine.ts). Signalling
// decides it; the packet path dispatches on the payload type through one table
// lookup:
//
//   transcode entry   -> that input codec's Transcoder (decode, re-encode into
//                        the output codec); its packets go to the sink
//   passthrough entry -> forwarded with the payload type number rewritten
//   input CN type     -> the Transcoder of the current input codec
//   anything else     -> dropped (counted by the caller)
//
// One output stream. Everything that leaves a stream direction in transcoding
// mode is one RTP stream for the receiver: one SSRC (the first input packet's)
// and one sequence counter (RouteOutput) that numbers transcoded and
// passthrough packets alike, so the count stays continuous whatever mix of the
// two arrives and whatever a Transcoder repacketizes. Timestamps: a Transcoder
// writes its own, in the output clock; when the input changes codec the new
// Transcoder continues where the previous one stopped (continueOutput with its
// nextTs()); a passthrough packet gets the output timestamp of its input
// timestamp on the current Transcoder's timeline (Transcoder::outputTsOf), or
// keeps its input timeline (shifted to continue a previous route) when no
// Transcoder has run yet. RouteOutput lives in the stream, not in the route,
// so a route that replaces another one keeps the same output stream.
//
// DTMF. A telephone-event input type (an `events` entry) is either
// translated into the sink's telephone-event type (its duration rescaled from
// the input to the output event clock, its timestamp mapped like a
// passthrough packet's, so all packets of one event, the repeated end packets
// included, share one output timestamp), or, when the sink has no
// telephone-event, played by the current Transcoder as an in-band tone. With
// outEventPt the Transcoders listen for in-band digits in the audio they
// decode and send them as events of that type. While an input event is in
// progress the input audio is not transcoded: the events (or the tone) stand
// in for it, unless suppressDtmf is off (--dtmf-no-suppress) and the events
// are translated.
//
// Limits. A passthrough payload type must have the clock rate of the
// transcoded input codecs' timeline and the same rate on the output side; a
// telephone-event type is taken to run on the timeline of the audio codec of
// its side (the negotiation pairs them by clock rate). Sequence numbers are
// renumbered, so the receiver sees losses of passthrough packets as
// continuous numbering.
//
// Threads. create() runs on the JavaScript thread and allocates everything
// (the Transcoders). spec() and transcodes() never change after create() and
// may be read from any thread. Everything else runs on the engine thread that
// owns the stream; input() and tick() never block and allocate nothing beyond
// what the codec libraries do (see codec.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../bytes.h"
#include "../dtmf_events.h"
#include "transcoder.h"

namespace rtpe {
namespace codec {

struct PassthroughPt {
  uint8_t pt;
  uint8_t outPt;
};

// A telephone-event input type: translated to outPt (clock outClockRate), or
// played as in-band tones when outPt is -1.
struct EventPt {
  uint8_t pt;
  int outPt;
  uint32_t clockRate;
  uint32_t outClockRate;
};
bool operator==(const EventPt& a, const EventPt& b);

// What signalling asks for; mirrors CodecRoute in src/media/engine.ts.
struct RouteSpec {
  std::vector<CodecSpec> transcode;  // input codecs, each with its payloadType
  bool hasOut = false;
  CodecSpec out;                     // the codec the sink's peer receives
  std::vector<PassthroughPt> passthrough;
  int inCnPt = -1;
  int outCnPt = -1;
  int silenceDbov = -1;
  int dtxDelayMs = 60;
  int maxDtxMs = 30000;
  std::vector<EventPt> events;
  int outEventPt = -1;           // in-band digits in the input become these events
  uint32_t outEventClock = 8000;
  bool suppressDtmf = true;
  DtxOptions dtx;
};

bool operator==(const CodecSpec& a, const CodecSpec& b);
bool operator==(const RouteSpec& a, const RouteSpec& b);

// The output stream of one stream direction in transcoding mode. Engine
// thread only; kept by the stream across route changes.
struct RouteOutput {
  bool started = false;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  // Where a new timeline continues: set when a route replaces one whose
  // Transcoder had sent packets, used by the first packet of the new route.
  bool haveTs = false;
  uint32_t nextTs = 0;

  // Writes the next sequence number and the SSRC into an outgoing RTP header.
  void stamp(uint8_t* pkt) {
    putBe16(pkt + 2, seq++);
    putBe32(pkt + 8, ssrc);
  }
};

// Transcoder counters that changed during one call, for the stream's counters.
struct RouteCounters {
  uint64_t framesDecoded = 0;
  uint64_t framesEncoded = 0;
  uint64_t errors = 0;   // malformed RTP or undecodable payloads
  uint64_t dropped = 0;  // late or duplicate packets
  bool digitEnded = false;  // a key press heard in the decoded audio ended (digit)
  DigitEnd digit;
};

class CodecRoute {
 public:
  enum class Verdict : uint8_t {
    Forward,   // the packet was rewritten in place: forward it
    Consumed,  // a Transcoder took it (its output went to the sink)
    Drop,      // no entry for its payload type: drop and count it
  };

  // Creates the Transcoders. Returns null with err naming the codecs when a
  // spec is unusable. Runs on the JavaScript thread; allocates.
  static std::shared_ptr<CodecRoute> create(const RouteSpec& spec, std::string& err);
  ~CodecRoute();
  CodecRoute(const CodecRoute&) = delete;
  CodecRoute& operator=(const CodecRoute&) = delete;

  const RouteSpec& spec() const { return spec_; }
  // At least one payload type is transcoded (the stream needs tick()).
  bool transcodes() const { return !transcoders_.empty(); }

  // Handles one RTP packet (version 2, at least 12 bytes; never RTCP),
  // received at nowMs (monotonic), in a writable buffer. The Transcoders'
  // packets go to sink, which must copy them and stamp() them with out.
  // Runs on the engine thread; never blocks.
  Verdict input(uint8_t* pkt, uint32_t len, int64_t nowMs, RouteOutput& out, RtpSink& sink, RouteCounters& changed);

  // Lets the current input codec's Transcoder generate comfort noise while
  // the input is in DTX, or run its DTX buffer. Only the current one: the
  // others' output would not belong to the output stream. Returns when it
  // wants the next tick (monotonic ms; INT64_MAX: the caller's regular
  // period). Runs on the engine thread; never blocks.
  int64_t tick(int64_t nowMs, RtpSink& sink, RouteCounters& changed);

  // Tells the Transcoders that input packets are being dropped on purpose
  // (see Transcoder::interrupt). Runs on the engine thread; never blocks.
  void interrupt() {
    for (auto& t : transcoders_) t->interrupt();
  }
  // Removes DTMF digits from the transcoded audio (block DTMF, see
  // Transcoder::blockDtmf). Runs on the engine thread; never blocks.
  void blockDtmf(bool on) {
    if (on == blockDtmf_) return;
    blockDtmf_ = on;
    for (auto& t : transcoders_) t->blockDtmf(on);
  }

  // Called when this route replaces prev on the stream, before its first
  // packet: the output stream continues where prev left it. Runs on the
  // engine thread.
  void takeOver(const CodecRoute& prev, RouteOutput& out);

 private:
  static constexpr int16_t kDrop = -1;
  static constexpr int16_t kPass = 0x100;  // | output payload type
  static constexpr int16_t kCn = 0x200;
  static constexpr int16_t kEvent = 0x400;  // | index into spec_.events

  CodecRoute() = default;
  uint32_t passTs(uint8_t pt, uint32_t ts, RouteOutput& out);
  // The output timestamp a Transcoder taking over the output stream starts at
  // for an input packet at ts.
  uint32_t continuation(uint32_t ts, RouteOutput& out);
  void publish(size_t i, RouteCounters& changed);
  // The Transcoder of input codec i, continuing the output stream when it
  // takes over (a codec change) or when its input comes back after
  // passthrough packets stood in for it.
  Transcoder& enter(int i, uint32_t ts, RouteOutput& out);
  Verdict event(const EventPt& ev, uint8_t* pkt, uint32_t len, int64_t nowMs, RouteOutput& out, RtpSink& sink,
                RouteCounters& changed);
  // An audio packet at ts falls inside the input event in progress.
  bool inEvent(uint32_t ts);

  RouteSpec spec_;
  std::vector<std::unique_ptr<Transcoder>> transcoders_;
  std::vector<RouteCounters> published_;  // per Transcoder: what publish() reported so far
  int16_t byPt_[128];
  int cur_ = -1;                   // the Transcoder of the current input codec
  bool passedSinceInput_ = false;  // passthrough packets went out since its last input
  bool havePassOffset_ = false;    // passthrough timestamps without a Transcoder: input + offset
  uint32_t passOffset_ = 0;
  int lastPassPt_ = -1;            // the last passthrough packet, so that repeated
  uint32_t lastPassInTs_ = 0;      // timestamps (the packets of one RFC 4733 event)
  uint32_t lastPassOutTs_ = 0;     // map to one output timestamp
  bool blockDtmf_ = false;
  bool evOn_ = false;              // an input event is in progress
  bool evTone_ = false;            // ... and it is played as a tone
  uint32_t evTs_ = 0;
  bool evEnded_ = false;           // the last event that ended, whose
  uint32_t evEndedTs_ = 0;         // repeated end packets change nothing
};

}  // namespace codec
}  // namespace rtpe
