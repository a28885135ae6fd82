// Entry point of the native media engine addon: the N-API binding of Engine.
//
// Exports `version` and the class `Engine`:
//   new Engine({ threads, learningDelayMs }, onEvents)
//   openStream(sockets: {family, address, port}[], group: number): number
//   configure(id, { endpoint, sink, rtcpSink, learning, strictSource, mediaHandover, tos,
//                   ice: {ufrag, pwd} | null, clockRates: {pt, clockRate}[],
//                   codecs: { transcode: {in}[], out, passthrough: {pt, outPt}[], inCnPt, outCnPt,
//                             silenceDbov, dtxDelayMs, maxDtxMs } | null }): void
//   closeStream(id): void
//   stats(id): object;  statsMany(ids): object[]
//   lastPacket(id): number   (unix ms of the last accepted packet, 0 = none)
//   ssrcStats(group): object[]   (the SSRC table of a call, see ssrc.h)
//   totals(): { packets, bytes, errors }   (received by all streams ever)
//   close(): void
// Failures throw an Error with a stable `code` property. The typed façade is
// src/media/engine.ts; this file only converts values.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "codec/binding.h"
#include "engine.h"

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
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throwError(env, "EINVAL", std::string(key) + " is out of range");
    return false;
  }
  out = static_cast<int64_t>(d);
  return true;
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

bool readSink(Napi::Env env, Napi::Object o, const char* key, uint32_t& out) {
  Napi::Value v = o.Get(key);
  out = 0;
  if (v.IsUndefined() || v.IsNull()) return true;
  return readId(env, v, out);
}

bool readEndpoint(Napi::Env env, Napi::Value v, SockAddr& out) {
  out.clear();
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsObject()) {
    throwError(env, "EINVAL", "endpoint must be an object or null");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  int64_t family = 0, port = 0;
  bool present;
  if (!readInt(env, o, "family", 4, 6, family, present)) return false;
  if (!readInt(env, o, "port", 0, 65535, port, present)) return false;
  Napi::Value addr = o.Get("address");
  if (!addr.IsString() || !SockAddr::parse(static_cast<int>(family), addr.As<Napi::String>().Utf8Value(),
                                           static_cast<uint16_t>(port), out)) {
    throwError(env, "EINVAL", "invalid endpoint address");
    return false;
  }
  return true;
}

Napi::Object statsValue(Napi::Env env, const StreamSnapshot& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", Napi::Number::New(env, static_cast<double>(s.packets)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(s.bytes)));
  o.Set("errors", Napi::Number::New(env, static_cast<double>(s.errors)));
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(s.dropped)));
  o.Set("lastPacket", Napi::Number::New(env, static_cast<double>(s.lastPacketMs)));
  o.Set("packetsOut", Napi::Number::New(env, static_cast<double>(s.packetsOut)));
  o.Set("bytesOut", Napi::Number::New(env, static_cast<double>(s.bytesOut)));
  o.Set("endpoint", endpointValue(env, s.endpoint));
  o.Set("learned", Napi::Boolean::New(env, s.learned));
  o.Set("confirmed", Napi::Boolean::New(env, s.confirmed));
  o.Set("ssrc", s.haveSsrc ? Napi::Value(Napi::Number::New(env, s.ssrc)) : env.Null());
  o.Set("payloadType", s.payloadType >= 0 ? Napi::Value(Napi::Number::New(env, s.payloadType)) : env.Null());
  o.Set("transcoded", Napi::Boolean::New(env, s.transcoded));
  o.Set("framesDecoded", Napi::Number::New(env, static_cast<double>(s.framesDecoded)));
  o.Set("framesEncoded", Napi::Number::New(env, static_cast<double>(s.framesEncoded)));
  o.Set("transcodeErrors", Napi::Number::New(env, static_cast<double>(s.transcodeErrors)));
  return o;
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

// Reads the ICE credentials and payload clock rates of a configuration.
bool readMediaParams(Napi::Env env, Napi::Object o, ConfigSpec& spec) {
  Napi::Value ice = o.Get("ice");
  if (!ice.IsUndefined() && !ice.IsNull()) {
    if (!ice.IsObject()) {
      throwError(env, "EINVAL", "ice must be an object or null");
      return false;
    }
    Napi::Value ufrag = ice.As<Napi::Object>().Get("ufrag");
    Napi::Value pwd = ice.As<Napi::Object>().Get("pwd");
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
  Napi::Value rates = o.Get("clockRates");
  if (!rates.IsUndefined() && !rates.IsNull()) {
    if (!rates.IsArray() || rates.As<Napi::Array>().Length() > 128) {
      throwError(env, "EINVAL", "clockRates must be an array of at most 128 entries");
      return false;
    }
    Napi::Array arr = rates.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) {
        throwError(env, "EINVAL", "clockRates entries must be objects");
        return false;
      }
      int64_t pt = 0, rate = 0;
      bool present;
      if (!readInt(env, v.As<Napi::Object>(), "pt", 0, 127, pt, present)) return false;
      if (!readInt(env, v.As<Napi::Object>(), "clockRate", 0, 10000000, rate, present)) return false;
      spec.clockRates.push_back(rtpe::PtClock{static_cast<uint8_t>(pt), static_cast<uint32_t>(rate)});
    }
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
  Napi::Value pass = o.Get("passthrough");
  if (!pass.IsUndefined()) {
    if (!pass.IsArray() || pass.As<Napi::Array>().Length() > 128) {
      throwError(env, "EINVAL", "codecs.passthrough must be an array of at most 128 entries");
      return false;
    }
    Napi::Array arr = pass.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value e = arr.Get(i);
      if (!e.IsObject()) {
        throwError(env, "EINVAL", "codecs.passthrough entries must be objects {pt, outPt}");
        return false;
      }
      int64_t pt = -1, outPt = -1;
      bool present1, present2;
      if (!readInt(env, e.As<Napi::Object>(), "pt", 0, 127, pt, present1)) return false;
      if (!readInt(env, e.As<Napi::Object>(), "outPt", 0, 127, outPt, present2)) return false;
      if (!present1 || !present2) {
        throwError(env, "EINVAL", "codecs.passthrough entries need pt and outPt");
        return false;
      }
      r.passthrough.push_back(rtpe::codec::PassthroughPt{static_cast<uint8_t>(pt), static_cast<uint8_t>(outPt)});
    }
  }
  struct IntField {
    const char* key;
    int64_t lo, hi;
    int* field;
  } fields[] = {
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
  return true;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::OpenStream>("openStream"),
                           InstanceMethod<&EngineWrap::Configure>("configure"),
                           InstanceMethod<&EngineWrap::CloseStream>("closeStream"),
                           InstanceMethod<&EngineWrap::Stats>("stats"),
                           InstanceMethod<&EngineWrap::StatsMany>("statsMany"),
                           InstanceMethod<&EngineWrap::LastPacket>("lastPacket"),
                           InstanceMethod<&EngineWrap::SsrcStats>("ssrcStats"),
                           InstanceMethod<&EngineWrap::Totals>("totals"),
                           InstanceMethod<&EngineWrap::Close>("close"),
                       });
  }

  EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      throwError(env, "EINVAL", "Engine(options, onEvents) expects an object and a function");
      return;
    }
    Napi::Object opts = info[0].As<Napi::Object>();
    int64_t threads = 1, delay = 3000;
    bool present;
    if (!readInt(env, opts, "threads", 1, 64, threads, present)) return;
    if (!readInt(env, opts, "learningDelayMs", 0, 3600000, delay, present)) return;
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
    if (info.Length() < 1 || !info[0].IsArray()) {
      throwError(env, "EINVAL", "openStream expects an array of local sockets");
      return env.Undefined();
    }
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<SocketSpec> specs(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) {
        throwError(env, "EINVAL", "local socket must be an object");
        return env.Undefined();
      }
      Napi::Object o = v.As<Napi::Object>();
      int64_t family = 0, port = 0;
      bool present;
      if (!readInt(env, o, "family", 4, 6, family, present)) return env.Undefined();
      if (!readInt(env, o, "port", 0, 65535, port, present)) return env.Undefined();
      Napi::Value addr = o.Get("address");
      if (!addr.IsString()) {
        throwError(env, "EINVAL", "local socket address must be a string");
        return env.Undefined();
      }
      specs[i].family = static_cast<int>(family);
      specs[i].port = static_cast<int>(port);
      specs[i].address = addr.As<Napi::String>().Utf8Value();
    }
    int64_t group = 0;
    if (info.Length() > 1 && info[1].IsNumber()) {
      double d = info[1].As<Napi::Number>().DoubleValue();
      if (d >= 0 && d < 4294967296.0) group = static_cast<int64_t>(d);
    }
    uint32_t id = 0;
    if (throwIfFailed(env, engine_->openStream(specs, static_cast<unsigned>(group), id))) return env.Undefined();
    return Napi::Number::New(env, id);
  }

  Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    uint32_t id;
    if (info.Length() < 2 || !readId(env, info[0], id)) {
      if (!env.IsExceptionPending()) throwError(env, "EINVAL", "configure expects an id and a configuration");
      return env.Undefined();
    }
    if (!info[1].IsObject()) {
      throwError(env, "EINVAL", "configuration must be an object");
      return env.Undefined();
    }
    Napi::Object o = info[1].As<Napi::Object>();
    ConfigSpec spec;
    if (!readEndpoint(env, o.Get("endpoint"), spec.endpoint)) return env.Undefined();
    if (!readSink(env, o, "sink", spec.sink) || !readSink(env, o, "rtcpSink", spec.rtcpSink)) return env.Undefined();
    Napi::Value learning = o.Get("learning");
    if (!learning.IsString() || !rtpe::parseLearning(learning.As<Napi::String>().Utf8Value(), spec.learning)) {
      throwError(env, "EINVAL", "learning must be 'off', 'immediate', 'delayed' or 'heuristic'");
      return env.Undefined();
    }
    spec.strictSource = o.Get("strictSource").ToBoolean().Value();
    spec.mediaHandover = o.Get("mediaHandover").ToBoolean().Value();
    int64_t tos = -1;
    bool present;
    if (!readInt(env, o, "tos", 0, 255, tos, present)) return env.Undefined();
    spec.tos = present ? static_cast<int>(tos) : -1;
    if (!readMediaParams(env, o, spec)) return env.Undefined();
    if (!readCodecRoute(env, o.Get("codecs"), spec)) return env.Undefined();
    throwIfFailed(env, engine_->configure(id, spec));
    return env.Undefined();
  }

  Napi::Value CloseStream(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 1 || !readId(env, info[0], id)) return env.Undefined();
    if (engine_) engine_->closeStream(id);
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (info.Length() < 1 || !readId(env, info[0], id)) return env.Undefined();
    if (!usable(env)) return env.Undefined();
    StreamSnapshot s;
    if (throwIfFailed(env, engine_->snapshot(id, s))) return env.Undefined();
    return statsValue(env, s);
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

  Napi::Value StatsMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsArray()) {
      throwError(env, "EINVAL", "statsMany expects an array of ids");
      return env.Undefined();
    }
    Napi::Array ids = info[0].As<Napi::Array>();
    Napi::Array out = Napi::Array::New(env, ids.Length());
    for (uint32_t i = 0; i < ids.Length(); i++) {
      uint32_t id;
      if (!readId(env, ids.Get(i), id)) return env.Undefined();
      StreamSnapshot s;
      if (throwIfFailed(env, engine_->snapshot(id, s))) return env.Undefined();
      out.Set(i, statsValue(env, s));
    }
    return out;
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

  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  EventFunction events_;
  bool haveEvents_ = false;
  napi_env env_ = nullptr;
  bool hookInstalled_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  exports.Set("Engine", EngineWrap::Define(env));
  rtpe::codec::registerCodecExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rtpengine_native, Init)
