// Entry point of the native media engine addon: the N-API binding of Engine.
//
// Exports `version` and the class `Engine`:
//   new Engine({ threads, learningDelayMs, recordRingBytes }, onEvents, io: Float64Array)
//   openStream(group, family, address, port, family, address, port, ...): number
//   configure(id, endpointAddress, iceUfrag | null, icePwd | null, codecs | null): void
//                                    (the numbers in io, see ConfigSlot; codecs:
//                                     { transcode: {in}[], out, passthrough: {pt, outPt}[],
//                                       inCnPt, outCnPt, silenceDbov, dtxDelayMs, maxDtxMs,
//                                       dtxBuffered, dtxBufferPackets, dtxLagMs, dtxShiftMs,
//                                       dtxCnParams, cnPayload, amrDtxCn })
//   closeStreams(ids): void   (returns at once; the sockets close on the engine thread)
//   statsInto(id): string | null     (the figures in io, see StatsSlot; returns
//                                     the endpoint's address)
//   lastPacket(id): number   (unix ms of the last accepted packet, 0 = none)
//   ssrcStats(group): object[]   (the SSRC table of a call, see ssrc.h)
//   totals(): { packets, bytes, errors }   (received by all streams ever)
//   setControl(id, bits, recording, silence: number[]): void
//                            (rtpe::MediaControl; silence holds pairs of payload
//                             type and pattern byte; the DTMF types are the
//                             telephone-event types of the stream's clockRates)
//   setSrtp(id, inSuite, inKey | null, inParams, outSuite, outKey | null, outParams): void
//                            (srtp.h: suite numbers, master key + salt as a
//                             Buffer, session parameter bits; suite 0 = none)
//   openRecording(recording, path, eth): void   closeRecording(recording): void
//   recordedPackets(recording): number   recordingDrops(): number
//   kernelOpen(table, ifnames: string[]): string | null
//                            (loads and attaches the in-kernel forwarder;
//                             null, or why it is unavailable: kernel.h)
//   setKernel(id, allowed): void   (the stream may be forwarded in the kernel;
//                                   its engine thread decides when: kernel_flows.h)
//   close(): void
// The calls every offer, answer and delete makes (open, configure, stats) pass
// their numbers through `io`, a Float64Array shared with JavaScript and read in
// place, and their other values as positional arguments: each N-API call costs
// about as much as the rest of the work, and reading a configuration as object
// properties took dozens of them. Failures throw an Error with a stable `code`
// property. The typed façade, src/media/engine.ts, holds the other half of
// these layouts; this file only converts values.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec/binding.h"
#include "engine.h"
#include "player/binding.h"

namespace {

using rtpe::ConfigSpec;
using rtpe::Engine;
using rtpe::Event;
using rtpe::SockAddr;
using rtpe::SocketSpec;
using rtpe::Status;
using rtpe::StreamSnapshot;
using rtpe::SsrcSnapshot;
using rtpe::StatsBlock;

// The layouts of the io block; src/media/engine.ts uses the same slots.
// configure() reads:
enum ConfigSlot : uint32_t {
  kCfgEndpointFamily,  // 0: no endpoint (the address argument is ignored)
  kCfgEndpointPort,
  kCfgSink,      // 0: none
  kCfgRtcpSink,  // 0: none
  kCfgLearning,  // rtpe::Learning: 0 off, 1 immediate, 2 delayed, 3 heuristic
  kCfgStrictSource,
  kCfgMediaHandover,
  kCfgTos,        // -1: the socket default
  kCfgRateCount,  // payload type / clock rate pairs that follow
  kCfgRates,
};
constexpr uint32_t kMaxClockRates = 128;
// statsInto() writes:
enum StatsSlot : uint32_t {
  kPackets,
  kBytes,
  kErrors,
  kDropped,
  kLastPacket,
  kPacketsOut,
  kBytesOut,
  kEndpointFamily,  // 0 when there is no endpoint
  kEndpointPort,
  kLearned,
  kConfirmed,
  kSsrc,         // -1 before any
  kPayloadType,  // -1 before any
  kTranscoded,   // the stream has a codec route with a transcode entry
  kFramesDecoded,
  kFramesEncoded,
  kTranscodeErrors,
  kKernelized,     // 1 while the stream's flows are in the kernel's table
  kKernelPackets,  // of kPackets, those the kernel forwarded
  kStatsSlots,
};
constexpr uint32_t kIoSlots = kCfgRates + 2 * kMaxClockRates;
static_assert(kStatsSlots <= kIoSlots, "the stats layout must fit in the io block");

void throwError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.ThrowAsJavaScriptException();
}

bool throwIfFailed(Napi::Env env, const Status& st) {
  if (st.ok()) return false;
  throwError(env, st.code, st.message);
  return true;
}

Napi::Value endpointValue(Napi::Env env, const SockAddr& a) {
  if (!a.valid()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", Napi::Number::New(env, a.family()));
  o.Set("address", Napi::String::New(env, a.host()));
  o.Set("port", Napi::Number::New(env, a.port()));
  return o;
}

Napi::Object eventValue(Napi::Env env, const Event& e) {
  Napi::Object o = Napi::Object::New(env);
  switch (e.type) {
    case Event::Type::Learned:
      o.Set("type", "learned");
      o.Set("id", Napi::Number::New(env, e.id));
      o.Set("endpoint", endpointValue(env, e.endpoint));
      o.Set("confirmed", Napi::Boolean::New(env, e.confirmed));
      break;
    case Event::Type::Error:
      o.Set("type", "error");
      o.Set("id", e.id ? Napi::Value(Napi::Number::New(env, e.id)) : env.Null());
      o.Set("code", Napi::String::New(env, e.code));
      o.Set("message", Napi::String::New(env, e.message));
      break;
    case Event::Type::Dtmf:
      o.Set("type", "dtmf");
      o.Set("id", Napi::Number::New(env, e.id));
      o.Set("source", endpointValue(env, e.endpoint));
      o.Set("event", Napi::Number::New(env, e.digit.event));
      o.Set("volume", Napi::Number::New(env, e.digit.volume));
      o.Set("durationMs", Napi::Number::New(env, e.digit.durationMs));
      o.Set("inband", Napi::Boolean::New(env, e.digit.inband));
      break;
  }
  return o;
}

// Delivers a batch of events to the onEvents callback. Runs on the JavaScript
// thread; env is null when the function is being torn down.
void deliverEvents(Napi::Env env, Napi::Function callback, std::nullptr_t*, std::vector<Event>* batch) {
  std::unique_ptr<std::vector<Event>> owned(batch);
  if (env == nullptr || callback.IsEmpty() || !owned) return;
  Napi::Array arr = Napi::Array::New(env, owned->size());
  for (size_t i = 0; i < owned->size(); i++) arr.Set(static_cast<uint32_t>(i), eventValue(env, (*owned)[i]));
  callback.Call({arr});
}

using EventFunction = Napi::TypedThreadSafeFunction<std::nullptr_t, std::vector<Event>, deliverEvents>;

// Checks that d is an integer within [lo, hi]; throws EINVAL naming `what` otherwise.
bool checkInt(Napi::Env env, double d, const char* what, int64_t lo, int64_t hi, int64_t& out) {
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throwError(env, "EINVAL", std::string(what) + " is out of range");
    return false;
  }
  out = static_cast<int64_t>(d);
  return true;
}

// Reads an optional integer property; returns false (with an exception thrown)
// if it is present but not an integer within [lo, hi].
bool readInt(Napi::Env env, Napi::Object o, const char* key, int64_t lo, int64_t hi, int64_t& out, bool& present) {
  Napi::Value v = o.Get(key);
  present = !(v.IsUndefined() || v.IsNull());
  if (!present) return true;
  if (!v.IsNumber()) {
    throwError(env, "EINVAL", std::string(key) + " must be a number");
    return false;
  }
  return checkInt(env, v.As<Napi::Number>().DoubleValue(), key, lo, hi, out);
}

bool readId(Napi::Env env, Napi::Value v, uint32_t& out) {
  if (!v.IsNumber()) {
    throwError(env, "EINVAL", "stream id must be a number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 1 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throwError(env, "EINVAL", "invalid stream id");
    return false;
  }
  out = static_cast<uint32_t>(d);
  return true;
}

bool readIntArg(Napi::Env env, Napi::Value v, const char* what, int64_t lo, int64_t hi, int64_t& out) {
  if (!v.IsNumber()) {
    throwError(env, "EINVAL", std::string(what) + " must be a number");
    return false;
  }
  return checkInt(env, v.As<Napi::Number>().DoubleValue(), what, lo, hi, out);
}

// Reads a stream id slot: 0 means none.
bool slotId(Napi::Env env, double d, const char* what, uint32_t& out) {
  int64_t v = 0;
  if (!checkInt(env, d, what, 0, 4294967295LL, v)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

// Reads configure()'s io slots and arguments into spec.
bool readConfig(Napi::Env env, const double* io, const Napi::CallbackInfo& info, ConfigSpec& spec) {
  int64_t family = 0, port = 0, learning = 0, tos = -1, rates = 0;
  if (!checkInt(env, io[kCfgEndpointFamily], "endpoint family", 0, 6, family)) return false;
  if (family != 0) {
    if (!checkInt(env, io[kCfgEndpointPort], "endpoint port", 0, 65535, port)) return false;
    if (!info[1].IsString() || !SockAddr::parse(static_cast<int>(family), info[1].As<Napi::String>().Utf8Value(),
                                                static_cast<uint16_t>(port), spec.endpoint)) {
      throwError(env, "EINVAL", "invalid endpoint address");
      return false;
    }
  }
  if (!slotId(env, io[kCfgSink], "sink", spec.sink) || !slotId(env, io[kCfgRtcpSink], "rtcpSink", spec.rtcpSink)) {
    return false;
  }
  if (!checkInt(env, io[kCfgLearning], "learning", 0, 3, learning)) return false;
  spec.learning = static_cast<rtpe::Learning>(learning);
  spec.strictSource = io[kCfgStrictSource] != 0;
  spec.mediaHandover = io[kCfgMediaHandover] != 0;
  if (!checkInt(env, io[kCfgTos], "tos", -1, 255, tos)) return false;
  spec.tos = static_cast<int>(tos);
  Napi::Value ufrag = info[2], pwd = info[3];
  if (!ufrag.IsNull() && !ufrag.IsUndefined()) {
    if (!ufrag.IsString() || !pwd.IsString()) {
      throwError(env, "EINVAL", "ice.ufrag and ice.pwd must be strings");
      return false;
    }
    spec.ice.ufrag = ufrag.As<Napi::String>().Utf8Value();
    spec.ice.pwd = pwd.As<Napi::String>().Utf8Value();
    if (spec.ice.ufrag.size() > 256 || spec.ice.pwd.size() > 256) {
      throwError(env, "EINVAL", "ICE credentials are too long");
      return false;
    }
  }
  if (!checkInt(env, io[kCfgRateCount], "clockRates count", 0, kMaxClockRates, rates)) return false;
  spec.clockRates.reserve(static_cast<size_t>(rates));
  for (int64_t i = 0; i < rates; i++) {
    int64_t pt = 0, rate = 0;
    // A telephone-event payload type comes as pt + 128.
    if (!checkInt(env, io[kCfgRates + 2 * i], "pt", 0, 255, pt)) return false;
    if (!checkInt(env, io[kCfgRates + 2 * i + 1], "clockRate", 0, 10000000, rate)) return false;
    spec.clockRates.push_back(rtpe::PtClock{static_cast<uint8_t>(pt & 127), static_cast<uint32_t>(rate), pt >= 128});
  }
  return true;
}

Napi::Object blockValue(Napi::Env env, const StatsBlock& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("mos", Napi::Number::New(env, b.mos));
  o.Set("rtt", Napi::Number::New(env, static_cast<double>(b.rtt)));
  o.Set("rttLeg", Napi::Number::New(env, static_cast<double>(b.rttLeg)));
  o.Set("jitter", Napi::Number::New(env, b.jitter));
  o.Set("packetLoss", Napi::Number::New(env, b.packetLoss));
  o.Set("reportedUs", Napi::Number::New(env, static_cast<double>(b.reportedUs)));
  return o;
}

Napi::Object ssrcValue(Napi::Env env, const SsrcSnapshot& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ssrc", Napi::Number::New(env, s.ssrc));
  o.Set("packets", Napi::Number::New(env, static_cast<double>(s.packets)));
  o.Set("lastSeq", Napi::Number::New(env, s.lastSeq));
  o.Set("payloadType", s.payloadType >= 0 ? Napi::Value(Napi::Number::New(env, s.payloadType)) : env.Null());
  if (s.haveReport) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("about", Napi::Number::New(env, s.reportAbout));
    r.Set("fractionLost", Napi::Number::New(env, s.fractionLost));
    r.Set("packetsLost", Napi::Number::New(env, s.packetsLost));
    r.Set("highestSeq", Napi::Number::New(env, s.highestSeq));
    r.Set("jitter", Napi::Number::New(env, s.jitterRaw));
    o.Set("report", r);
  } else {
    o.Set("report", env.Null());
  }
  o.Set("rtt", Napi::Number::New(env, static_cast<double>(s.lastRtt)));
  o.Set("cumulativeLoss", Napi::Number::New(env, s.packetsLost));
  o.Set("samples", Napi::Number::New(env, static_cast<double>(s.blockCount)));
  o.Set("samplesWithoutMos", Napi::Number::New(env, static_cast<double>(s.noMosCount)));
  Napi::Object sums = Napi::Object::New(env);
  sums.Set("mos", Napi::Number::New(env, static_cast<double>(s.sums.mos)));
  sums.Set("rtt", Napi::Number::New(env, static_cast<double>(s.sums.rtt)));
  sums.Set("rttLeg", Napi::Number::New(env, static_cast<double>(s.sums.rttLeg)));
  sums.Set("jitter", Napi::Number::New(env, static_cast<double>(s.sums.jitter)));
  sums.Set("packetLoss", Napi::Number::New(env, static_cast<double>(s.sums.packetLoss)));
  o.Set("sums", sums);
  o.Set("lowest", s.haveLowest ? Napi::Value(blockValue(env, s.lowest)) : env.Null());
  o.Set("highest", s.haveHighest ? Napi::Value(blockValue(env, s.highest)) : env.Null());
  Napi::Array blocks = Napi::Array::New(env, s.blocks.size());
  for (size_t i = 0; i < s.blocks.size(); i++) blocks.Set(static_cast<uint32_t>(i), blockValue(env, s.blocks[i]));
  o.Set("blocks", blocks);
  return o;
}

// Calls fn for each object of the array o[key] (absent: none); at most 128
// entries. Returns false, with a JavaScript error thrown, when the array or an
// entry is malformed or fn returns false.
template <typename Fn>
bool forEachEntry(Napi::Env env, Napi::Object o, const char* key, const char* shape, Fn fn) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsArray() || v.As<Napi::Array>().Length() > 128) {
    throwError(env, "EINVAL", std::string("codecs.") + key + " must be an array of at most 128 entries");
    return false;
  }
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) {
      throwError(env, "EINVAL", std::string("codecs.") + key + " entries must be objects " + shape);
      return false;
    }
    if (!fn(e.As<Napi::Object>())) return false;
  }
  return true;
}

// Reads the codec route of a configuration (CodecRoute in src/media/engine.ts);
// absent or null leaves plain relaying.
bool readCodecRoute(Napi::Env env, Napi::Value v, ConfigSpec& spec) {
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsObject()) {
    throwError(env, "EINVAL", "codecs must be an object or null");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  rtpe::codec::RouteSpec& r = spec.codecs;
  spec.hasCodecs = true;
  Napi::Value transcode = o.Get("transcode");
  if (!transcode.IsUndefined()) {
    if (!transcode.IsArray() || transcode.As<Napi::Array>().Length() > 127) {
      throwError(env, "EINVAL", "codecs.transcode must be an array of at most 127 entries");
      return false;
    }
    Napi::Array arr = transcode.As<Napi::Array>();
    r.transcode.resize(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value e = arr.Get(i);
      if (!e.IsObject()) {
        throwError(env, "EINVAL", "codecs.transcode entries must be objects with `in`");
        return false;
      }
      if (!rtpe::codec::readCodecSpec(env, e.As<Napi::Object>().Get("in"), r.transcode[i])) return false;
    }
  }
  Napi::Value out = o.Get("out");
  if (!out.IsUndefined() && !out.IsNull()) {
    if (!rtpe::codec::readCodecSpec(env, out, r.out)) return false;
    r.hasOut = true;
  }
  bool ok = forEachEntry(env, o, "passthrough", "{pt, outPt}", [&](Napi::Object e) {
    int64_t pt = -1, outPt = -1;
    bool present1, present2;
    if (!readInt(env, e, "pt", 0, 127, pt, present1)) return false;
    if (!readInt(env, e, "outPt", 0, 127, outPt, present2)) return false;
    if (!present1 || !present2) {
      throwError(env, "EINVAL", "codecs.passthrough entries need pt and outPt");
      return false;
    }
    r.passthrough.push_back(rtpe::codec::PassthroughPt{static_cast<uint8_t>(pt), static_cast<uint8_t>(outPt)});
    return true;
  });
  if (!ok) return false;
  ok = forEachEntry(env, o, "events", "{pt, outPt, clockRate, outClockRate}", [&](Napi::Object e) {
    int64_t pt = -1, outPt = -1, rate = 0, outRate = 0;
    bool p1, p2, p3, p4;
    if (!readInt(env, e, "pt", 0, 127, pt, p1) || !readInt(env, e, "outPt", -1, 127, outPt, p2) ||
        !readInt(env, e, "clockRate", 1, 1000000, rate, p3) || !readInt(env, e, "outClockRate", 1, 1000000, outRate, p4))
      return false;
    if (!p1 || !p2 || !p3 || (outPt >= 0 && !p4)) {
      throwError(env, "EINVAL", "codecs.events entries need pt, outPt, clockRate and (with outPt) outClockRate");
      return false;
    }
    r.events.push_back(rtpe::codec::EventPt{static_cast<uint8_t>(pt), static_cast<int>(outPt),
                                            static_cast<uint32_t>(rate), static_cast<uint32_t>(outRate)});
    return true;
  });
  if (!ok) return false;
  Napi::Value suppress = o.Get("suppressDtmf");
  if (!suppress.IsUndefined()) {
    if (!suppress.IsBoolean()) {
      throwError(env, "EINVAL", "codecs.suppressDtmf must be a boolean");
      return false;
    }
    r.suppressDtmf = suppress.As<Napi::Boolean>().Value();
  }
  int outEventClock = static_cast<int>(r.outEventClock);
  struct IntField {
    const char* key;
    int64_t lo, hi;
    int* field;
  } fields[] = {
      {"outEventPt", -1, 127, &r.outEventPt},   {"outEventClock", 1, 1000000, &outEventClock},
      {"inCnPt", -1, 127, &r.inCnPt},          {"outCnPt", -1, 127, &r.outCnPt},
      {"silenceDbov", -1, 127, &r.silenceDbov}, {"dtxDelayMs", 0, 60000, &r.dtxDelayMs},
      {"maxDtxMs", 0, 3600000, &r.maxDtxMs},
  };
  for (const IntField& f : fields) {
    int64_t value = *f.field;
    bool present;
    if (!readInt(env, o, f.key, f.lo, f.hi, value, present)) return false;
    *f.field = static_cast<int>(value);
  }
  r.outEventClock = static_cast<uint32_t>(outEventClock);
  return rtpe::codec::readDtxOptions(env, o, r.dtx);
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::OpenStream>("openStream"),
                           InstanceMethod<&EngineWrap::Configure>("configure"),
                           InstanceMethod<&EngineWrap::CloseStreams>("closeStreams"),
                           InstanceMethod<&EngineWrap::StatsInto>("statsInto"),
                           InstanceMethod<&EngineWrap::LastPacket>("lastPacket"),
                           InstanceMethod<&EngineWrap::Play>("play"),
                           InstanceMethod<&EngineWrap::SetAudioPlayer>("setAudioPlayer"),
                           InstanceMethod<&EngineWrap::SsrcStats>("ssrcStats"),
                           InstanceMethod<&EngineWrap::Totals>("totals"),
                           InstanceMethod<&EngineWrap::SetControl>("setControl"),
                           InstanceMethod<&EngineWrap::SetSrtp>("setSrtp"),
                           InstanceMethod<&EngineWrap::OpenRecording>("openRecording"),
                           InstanceMethod<&EngineWrap::CloseRecording>("closeRecording"),
                           InstanceMethod<&EngineWrap::RecordedPackets>("recordedPackets"),
                           InstanceMethod<&EngineWrap::RecordingDrops>("recordingDrops"),
                           InstanceMethod<&EngineWrap::KernelOpen>("kernelOpen"),
                           InstanceMethod<&EngineWrap::SetKernel>("setKernel"),
                           InstanceMethod<&EngineWrap::Close>("close"),
                       });
  }

  EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsTypedArray() ||
        info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[2].As<Napi::TypedArray>().ElementLength() < kIoSlots) {
      throwError(env, "EINVAL",
                 "Engine(options, onEvents, io) expects an object, a function and a Float64Array of " +
                     std::to_string(kIoSlots) + " slots");
      return;
    }
    // Held for the engine's lifetime, so that the memory stays where it is.
    ioRef_ = Napi::Persistent(info[2].As<Napi::Float64Array>());
    io_ = info[2].As<Napi::Float64Array>().Data();
    Napi::Object opts = info[0].As<Napi::Object>();
    int64_t threads = 1, delay = 3000;
    bool present;
    if (!readInt(env, opts, "threads", 1, 64, threads, present)) return;
    if (!readInt(env, opts, "learningDelayMs", 0, 3600000, delay, present)) return;
    int64_t ringBytes = 16 << 20;
    if (!readInt(env, opts, "recordRingBytes", 4096, int64_t(1) << 30, ringBytes, present)) return;
    Napi::Value mos = opts.Get("mos");
    bool mosLq = mos.IsString() && mos.As<Napi::String>().Utf8Value() == "LQ";
    Napi::Value software = opts.Get("softwareId");

    events_ = EventFunction::New(env, info[1].As<Napi::Function>(), "rtpengine-media-events", 0, 1);
    // The engine must never keep the process alive by itself.
    events_.Unref(env);
    haveEvents_ = true;
    EventFunction tsfn = events_;
    rtpe::EventSink sink = [tsfn](std::vector<Event>&& batch) {
      auto* data = new std::vector<Event>(std::move(batch));
      if (tsfn.NonBlockingCall(data) != napi_ok) delete data;
    };
    Engine::Options eo;
    eo.threads = static_cast<unsigned>(threads);
    eo.learningDelayMs = delay;
    eo.recordRingBytes = static_cast<size_t>(ringBytes);
    eo.mos = mosLq ? rtpe::MosType::LQ : rtpe::MosType::CQ;
    if (software.IsString()) eo.softwareId = software.As<Napi::String>().Utf8Value();
    engine_.reset(new Engine(eo, sink));
    Status st = engine_->start();
    if (!st.ok()) {
      shutdown();
      throwError(env, st.code, st.message);
      return;
    }
    env_ = env;
    napi_add_env_cleanup_hook(env, &EngineWrap::onEnvCleanup, this);
    hookInstalled_ = true;
  }

  ~EngineWrap() override {
    if (hookInstalled_) napi_remove_env_cleanup_hook(env_, &EngineWrap::onEnvCleanup, this);
    shutdown();
  }

 private:
  static void onEnvCleanup(void* arg) {
    auto* self = static_cast<EngineWrap*>(arg);
    self->hookInstalled_ = false;
    self->shutdown();
  }

  // Stops the threads, closes every socket and releases the event function.
  // Idempotent; runs on the JavaScript thread.
  void shutdown() {
    if (engine_) engine_->stop();
    if (haveEvents_) {
      haveEvents_ = false;
      events_.Release();
    }
  }

  bool usable(Napi::Env env) {
    if (!engine_ || engine_->stopped()) {
      throwError(env, "EENGINE", "media engine is closed");
      return false;
    }
    return true;
  }

  Napi::Value OpenStream(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber() || (info.Length() - 1) % 3) {
      throwError(env, "EINVAL", "openStream expects a group and family, address, port for each local socket");
      return env.Undefined();
    }
    double g = info[0].As<Napi::Number>().DoubleValue();
    unsigned group = g >= 0 && g < 4294967296.0 ? static_cast<unsigned>(g) : 0;
    std::vector<SocketSpec> specs((info.Length() - 1) / 3);
    for (size_t i = 0; i < specs.size(); i++) {
      int64_t family = 0, port = 0;
      if (!readIntArg(env, info[1 + 3 * i], "family", 4, 6, family)) return env.Undefined();
      Napi::Value addr = info[2 + 3 * i];
      if (!addr.IsString()) {
        throwError(env, "EINVAL", "local socket address must be a string");
        return env.Undefined();
      }
      if (!readIntArg(env, info[3 + 3 * i], "port", 0, 65535, port)) return env.Undefined();
      specs[i].family = static_cast<int>(family);
      specs[i].port = static_cast<int>(port);
      specs[i].address = addr.As<Napi::String>().Utf8Value();
    }
    uint32_t id = 0;
    if (throwIfFailed(env, engine_->openStream(specs, group, id))) return env.Undefined();
    return Napi::Number::New(env, id);
  }

  Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    uint32_t id;
    if (info.Length() < 4) {
      throwError(env, "EINVAL", "configure expects an id, an address and the ICE credentials");
      return env.Undefined();
    }
    if (!readId(env, info[0], id)) return env.Undefined();
    ConfigSpec spec;
    if (!readConfig(env, io_, info, spec)) return env.Undefined();
    if (info.Length() > 4 && !readCodecRoute(env, info[4], spec)) return env.Undefined();
    throwIfFailed(env, engine_->configure(id, spec));
    return env.Undefined();
  }

  Napi::Value CloseStreams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) {
      throwError(env, "EINVAL", "closeStreams expects an array of ids");
      return env.Undefined();
    }
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<uint32_t> ids(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      if (!readId(env, arr.Get(i), ids[i])) return env.Undefined();
    }
    if (engine_) engine_->closeStreams(ids.data(), ids.size());
    return env.Undefined();
  }

  Napi::Value StatsInto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 1 || !readId(env, info[0], id)) return env.Undefined();
    if (!usable(env)) return env.Undefined();
    StreamSnapshot s;
    if (throwIfFailed(env, engine_->snapshot(id, s))) return env.Undefined();
    double* out = io_;
    out[kPackets] = static_cast<double>(s.packets);
    out[kBytes] = static_cast<double>(s.bytes);
    out[kErrors] = static_cast<double>(s.errors);
    out[kDropped] = static_cast<double>(s.dropped);
    out[kLastPacket] = static_cast<double>(s.lastPacketMs);
    out[kPacketsOut] = static_cast<double>(s.packetsOut);
    out[kBytesOut] = static_cast<double>(s.bytesOut);
    out[kEndpointFamily] = s.endpoint.family();
    out[kEndpointPort] = s.endpoint.port();
    out[kLearned] = s.learned ? 1 : 0;
    out[kConfirmed] = s.confirmed ? 1 : 0;
    out[kSsrc] = s.haveSsrc ? static_cast<double>(s.ssrc) : -1;
    out[kPayloadType] = s.payloadType;
    out[kTranscoded] = s.transcoded ? 1 : 0;
    out[kFramesDecoded] = static_cast<double>(s.framesDecoded);
    out[kFramesEncoded] = static_cast<double>(s.framesEncoded);
    out[kTranscodeErrors] = static_cast<double>(s.transcodeErrors);
    out[kKernelized] = s.kernelized ? 1 : 0;
    out[kKernelPackets] = static_cast<double>(s.kernelPackets);
    if (!s.endpoint.valid()) return env.Null();
    return Napi::String::New(env, s.endpoint.host());
  }

  // play(id, list | null, repeat, queue): plays a prepared list
  // (native/player/) in place of what stream id forwards, after the current
  // playback with queue; null stops the current playback.
  Napi::Value Play(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    uint32_t id;
    if (info.Length() < 2 || !readId(env, info[0], id)) {
      if (info.Length() < 2) throwError(env, "EINVAL", "play expects an id and a play list or null");
      return env.Undefined();
    }
    std::shared_ptr<rtpe::player::Player> p;
    if (!info[1].IsNull()) {
      std::shared_ptr<const rtpe::player::PlayList> list;
      if (!rtpe::player::readPlayList(env, info[1], list)) return env.Undefined();
      int64_t repeat = 1;
      if (info.Length() > 2 && !readIntArg(env, info[2], "repeat", 1, 1000000, repeat)) return env.Undefined();
      p = std::make_shared<rtpe::player::Player>(std::move(list), static_cast<int>(repeat));
    }
    bool queue = info.Length() > 3 && info[3].ToBoolean().Value();
    throwIfFailed(env, engine_->play(id, std::move(p), queue));
    return env.Undefined();
  }

  // setAudioPlayer(id, { inputs: NativeCodecSpec[], out: NativeCodecSpec,
  // bufferMs, delayMs, transient } | null): engages the mixing audio player
  // (native/player/audio_player.h) on what stream id forwards, or disengages
  // it. EINVAL when a codec cannot be built or the buffer is too short.
  Napi::Value SetAudioPlayer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    uint32_t id;
    if (info.Length() < 2 || !readId(env, info[0], id)) {
      if (info.Length() < 2) throwError(env, "EINVAL", "setAudioPlayer expects an id and a spec or null");
      return env.Undefined();
    }
    std::shared_ptr<rtpe::player::AudioPlayer> a;
    if (!info[1].IsNull() && !rtpe::player::readAudioPlayer(env, info[1], a)) return env.Undefined();
    throwIfFailed(env, engine_->setAudioPlayer(id, std::move(a)));
    return env.Undefined();
  }

  Napi::Value LastPacket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 1 || !readId(env, info[0], id)) return env.Undefined();
    if (!usable(env)) return env.Undefined();
    int64_t ms = 0;
    if (throwIfFailed(env, engine_->lastPacket(id, ms))) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(ms));
  }

  Napi::Value Totals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    Engine::Totals t = engine_->totals();
    Napi::Object o = Napi::Object::New(env);
    o.Set("packets", Napi::Number::New(env, static_cast<double>(t.packets)));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(t.bytes)));
    o.Set("errors", Napi::Number::New(env, static_cast<double>(t.errors)));
    return o;
  }

  Napi::Value SsrcStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      throwError(env, "EINVAL", "ssrcStats expects a group number");
      return env.Undefined();
    }
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (d < 0 || d >= 4294967296.0) return Napi::Array::New(env, 0);
    std::vector<SsrcSnapshot> snaps;
    engine_->ssrcStats(static_cast<unsigned>(d), snaps);
    Napi::Array out = Napi::Array::New(env, snaps.size());
    for (size_t i = 0; i < snaps.size(); i++) out.Set(static_cast<uint32_t>(i), ssrcValue(env, snaps[i]));
    return out;
  }

  Napi::Value SetControl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 4 || !readId(env, info[0], id)) {
      throwError(env, "EINVAL", "setControl expects an id, bits, a recording and silence pairs");
      return env.Undefined();
    }
    if (!usable(env)) return env.Undefined();
    if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsArray()) {
      throwError(env, "EINVAL", "setControl expects numbers and an array");
      return env.Undefined();
    }
    rtpe::MediaControl c;
    c.bits = info[1].As<Napi::Number>().Uint32Value();
    c.recording = info[2].As<Napi::Number>().Uint32Value();
    auto ptOf = [&](Napi::Value v, uint32_t& out) {
      if (!v.IsNumber()) return false;
      double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= 0 && d <= 127)) return false;
      out = static_cast<uint32_t>(d);
      return true;
    };
    Napi::Array silence = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i + 1 < silence.Length(); i += 2) {
      uint32_t pt, fill;
      if (!ptOf(silence.Get(i), pt) || !silence.Get(i + 1).IsNumber()) {
        throwError(env, "EINVAL", "setControl: silence pairs are a payload type 0-127 and a byte");
        return env.Undefined();
      }
      fill = silence.Get(i + 1).As<Napi::Number>().Uint32Value();
      c.silence[pt] = static_cast<uint8_t>(fill);
    }
    throwIfFailed(env, engine_->setControl(id, c));
    return env.Undefined();
  }

  Napi::Value SetSrtp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 7 || !readId(env, info[0], id)) {
      throwError(env, "EINVAL", "setSrtp expects an id and two (suite, key, params) triples");
      return env.Undefined();
    }
    if (!usable(env)) return env.Undefined();
    rtpe::SrtpKey keys[2];
    for (unsigned d = 0; d < 2; d++) {
      Napi::Value suite = info[1 + 3 * d], key = info[2 + 3 * d], params = info[3 + 3 * d];
      if (!suite.IsNumber() || !params.IsNumber()) {
        throwError(env, "EINVAL", "setSrtp: suite and params are numbers");
        return env.Undefined();
      }
      uint32_t n = suite.As<Napi::Number>().Uint32Value();
      if (n == 0) continue;
      if (n > rtpe::kSrtpSuiteCount || !key.IsBuffer()) {
        throwError(env, "EINVAL", "setSrtp: unknown suite or missing key");
        return env.Undefined();
      }
      Napi::Buffer<uint8_t> b = key.As<Napi::Buffer<uint8_t>>();
      if (b.Length() > sizeof(keys[d].key)) {
        throwError(env, "EINVAL", "setSrtp: key too long");
        return env.Undefined();
      }
      keys[d].suite = static_cast<rtpe::SrtpSuite>(n);
      keys[d].keyLen = static_cast<uint8_t>(b.Length());
      std::memcpy(keys[d].key, b.Data(), b.Length());
      keys[d].params = params.As<Napi::Number>().Uint32Value();
    }
    throwIfFailed(env, engine_->setSrtp(id, keys[0], keys[1]));
    return env.Undefined();
  }

  Napi::Value OpenRecording(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString()) {
      throwError(env, "EINVAL", "openRecording expects a recording number, a path and the eth flag");
      return env.Undefined();
    }
    throwIfFailed(env, engine_->openRecording(info[0].As<Napi::Number>().Uint32Value(),
                                              info[1].As<Napi::String>().Utf8Value(), info[2].ToBoolean()));
    return env.Undefined();
  }

  Napi::Value CloseRecording(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (engine_ && info.Length() > 0 && info[0].IsNumber()) engine_->closeRecording(info[0].As<Napi::Number>().Uint32Value());
    return env.Undefined();
  }

  Napi::Value RecordedPackets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_ || info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(env, 0);
    return Napi::Number::New(env, static_cast<double>(engine_->recordedPackets(info[0].As<Napi::Number>().Uint32Value())));
  }

  Napi::Value RecordingDrops(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), engine_ ? static_cast<double>(engine_->recordingDrops()) : 0);
  }

  Napi::Value KernelOpen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    int64_t table;
    if (info.Length() < 2 || !info[1].IsArray()) {
      throwError(env, "EINVAL", "kernelOpen expects a table number and an array of interface names");
      return env.Undefined();
    }
    if (!readIntArg(env, info[0], "table", 0, 0x7fffffff, table)) return env.Undefined();
    Napi::Array arr = info[1].As<Napi::Array>();
    std::vector<std::string> ifnames;
    for (uint32_t i = 0; i < arr.Length() && i < 256; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsString()) {
        throwError(env, "EINVAL", "kernelOpen: interface names must be strings");
        return env.Undefined();
      }
      ifnames.push_back(v.As<Napi::String>().Utf8Value());
    }
    std::string err = engine_->kernelOpen(static_cast<int>(table), ifnames);
    if (err.empty()) return env.Null();
    return Napi::String::New(env, err);
  }

  Napi::Value SetKernel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 2 || !readId(env, info[0], id)) {
      if (info.Length() < 2) throwError(env, "EINVAL", "setKernel expects an id and a boolean");
      return env.Undefined();
    }
    if (!usable(env)) return env.Undefined();
    throwIfFailed(env, engine_->setKernel(id, info[1].ToBoolean().Value()));
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  Napi::Reference<Napi::Float64Array> ioRef_;
  double* io_ = nullptr;
  EventFunction events_;
  bool haveEvents_ = false;
  napi_env env_ = nullptr;
  bool hookInstalled_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  exports.Set("Engine", EngineWrap::Define(env));
  rtpe::codec::registerCodecExports(env, exports);
  rtpe::player::registerPlayerExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rtpengine_native, Init)
