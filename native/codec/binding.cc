// N-API exports of the codec layer, added to the addon by
// registerCodecExports() (native/addon.cc):
//
//   codecAvailable(backend: string, encode: boolean): boolean
//       whether a backend ("ffmpeg:g722", "bcg729", "libopus", "internal:alaw")
//       is usable in this process, for --codecs and negotiation.
//   Transcoder(spec)      FOR TESTS AND BENCHMARKS ONLY: JavaScript must never
//       sit on the per-packet path in production (the relay owns its
//       Transcoders in C++, see transcoder.h).
//       spec: { in: CodecSpec, out: CodecSpec, inCnPt?, outCnPt?, silenceDbov?,
//               ssrc?, startSeq?, startTs?, maxGapMs?, maxDtxMs?, dtxDelayMs? }, CodecSpec as NativeCodecSpec in
//               src/codec/table.ts
//       input(packet: Buffer, nowMs?: number): Buffer[] | null (null: not its payload type)
//       tick(nowMs: number): Buffer[]
//       stats(): counters and nanoseconds (TranscoderStats)
//       info(): { decoderRate, encoderRate, encoderChannels, packetSamples }
//       run(packets: Buffer[], rounds: number): feeds them from C++ (benchmarks)
//   cnDescribe(samples: Int16Array, order?: number): Buffer   RFC 3389 payload of a frame
//   cnGenerate(payload: Buffer, samples: number): Int16Array  noise from a payload
//
// Errors are thrown as Error with a `code` ("EINVAL", "ECODEC").
#include <napi.h>

#include <dlfcn.h>
#include <time.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "cn.h"
#include "transcoder.h"

namespace rtpe {
namespace codec {

namespace {

void throwCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.ThrowAsJavaScriptException();
}

bool readString(Napi::Object o, const char* key, std::string& out, bool nullable) {
  Napi::Value v = o.Get(key);
  if (v.IsString()) {
    out = v.As<Napi::String>().Utf8Value();
    return true;
  }
  if (nullable && (v.IsNull() || v.IsUndefined())) {
    out.clear();
    return true;
  }
  return false;
}

bool readNumber(Napi::Object o, const char* key, double lo, double hi, double& out, bool optional) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return optional;
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < lo || d > hi || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  out = d;
  return true;
}

bool readBytes(Napi::Object o, const char* key, size_t maxLen, std::vector<uint8_t>& out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > maxLen) return false;
  out.clear();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) return false;
    const double d = e.As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 255 || d != static_cast<double>(static_cast<int>(d))) return false;
    out.push_back(static_cast<uint8_t>(d));
  }
  return true;
}

}  // namespace

bool readDtxOptions(Napi::Env env, Napi::Object o, DtxOptions& d) {
  double packets = d.bufferPackets, lag = d.lagMs, shift = d.shiftMs;
  Napi::Value buffered = o.Get("dtxBuffered"), amrCn = o.Get("amrDtxCn");
  if ((!buffered.IsUndefined() && !buffered.IsBoolean()) || (!amrCn.IsUndefined() && !amrCn.IsBoolean()) ||
      !readNumber(o, "dtxBufferPackets", 0, 10000, packets, true) || !readNumber(o, "dtxLagMs", 0, 60000, lag, true) ||
      !readNumber(o, "dtxShiftMs", 0, 1000, shift, true) || !readBytes(o, "dtxCnParams", 255, d.cnParams) ||
      !readBytes(o, "cnPayload", 255, d.cnPayload) || d.cnPayload.empty()) {
    throwCode(env, "EINVAL", "invalid DTX options (dtxBuffered, dtxBufferPackets, dtxLagMs, dtxShiftMs, dtxCnParams, "
                             "cnPayload of 1-255 bytes, amrDtxCn)");
    return false;
  }
  d.buffered = buffered.IsBoolean() && buffered.As<Napi::Boolean>().Value();
  d.amrCn = amrCn.IsBoolean() && amrCn.As<Napi::Boolean>().Value();
  d.bufferPackets = static_cast<int>(packets);
  d.lagMs = static_cast<int>(lag);
  d.shiftMs = static_cast<int>(shift);
  return true;
}

bool readCodecSpec(Napi::Env env, Napi::Value v, CodecSpec& s) {
  if (!v.IsObject()) {
    throwCode(env, "EINVAL", "codec spec must be an object");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  std::string packetizer;
  double clockRate = 0, sampleRate = 0, channels = 1, pt = 0, ptime = 20, frameMs = 0, bitrate = 0, complexity = -1;
  if (!readString(o, "name", s.name, false) || !readString(o, "decoder", s.decoder, true) ||
      !readString(o, "encoder", s.encoder, true) || !readString(o, "packetizer", packetizer, false) ||
      !readString(o, "fmtp", s.fmtp, true) || !parsePacketizer(packetizer, s.packetizer) ||
      !readNumber(o, "clockRate", 1, 1e6, clockRate, false) || !readNumber(o, "sampleRate", 1, 1e6, sampleRate, false) ||
      !readNumber(o, "channels", 1, 8, channels, false) || !readNumber(o, "payloadType", 0, 127, pt, false) ||
      !readNumber(o, "ptime", 0, 1000, ptime, true) || !readNumber(o, "frameMs", 0, 1000, frameMs, true) ||
      !readNumber(o, "bitrate", 0, 1e7, bitrate, true) || !readNumber(o, "complexity", -1, 10, complexity, true)) {
    throwCode(env, "EINVAL", "invalid codec spec (name, decoder, encoder, packetizer, clockRate, sampleRate, channels, payloadType, ptime, frameMs, bitrate, fmtp, complexity)");
    return false;
  }
  s.clockRate = static_cast<uint32_t>(clockRate);
  s.sampleRate = static_cast<uint32_t>(sampleRate);
  s.channels = static_cast<uint8_t>(channels);
  s.payloadType = static_cast<uint8_t>(pt);
  s.ptime = static_cast<uint16_t>(ptime);
  s.frameMs = static_cast<uint16_t>(frameMs);
  s.bitrate = static_cast<int>(bitrate);
  s.complexity = static_cast<int>(complexity);
  return true;
}

namespace {

// Collects the packets of one call into JavaScript Buffers.
class CollectSink : public RtpSink {
 public:
  void send(const uint8_t* packet, size_t len) override { packets.emplace_back(packet, packet + len); }
  Napi::Array toArray(Napi::Env env) {
    Napi::Array arr = Napi::Array::New(env, packets.size());
    for (size_t i = 0; i < packets.size(); i++)
      arr.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, packets[i].data(), packets[i].size()));
    packets.clear();
    return arr;
  }
  std::vector<std::vector<uint8_t>> packets;
};

class TranscoderWrap : public Napi::ObjectWrap<TranscoderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Transcoder",
                       {
                           InstanceMethod<&TranscoderWrap::Input>("input"),
                           InstanceMethod<&TranscoderWrap::Tick>("tick"),
                           InstanceMethod<&TranscoderWrap::Stats>("stats"),
                           InstanceMethod<&TranscoderWrap::Info>("info"),
                           InstanceMethod<&TranscoderWrap::Run>("run"),
                       });
  }

  TranscoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TranscoderWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      throwCode(env, "EINVAL", "Transcoder(spec) expects an object");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    TranscoderSpec spec;
    if (!readCodecSpec(env, o.Get("in"), spec.in) || !readCodecSpec(env, o.Get("out"), spec.out)) return;
    double cn = -1, cnOut = -1, silence = -1, ssrc = -1, maxGap = spec.maxGapMs, maxDtx = spec.maxDtxMs,
           dtxDelay = spec.dtxDelayMs, startSeq = -1, startTs = -1;
    if (!readNumber(o, "inCnPt", -1, 127, cn, true) || !readNumber(o, "outCnPt", -1, 127, cnOut, true) ||
        !readNumber(o, "silenceDbov", -1, 127, silence, true) || !readNumber(o, "ssrc", -1, 4294967295.0, ssrc, true) ||
        !readNumber(o, "startSeq", -1, 65535, startSeq, true) || !readNumber(o, "startTs", -1, 4294967295.0, startTs, true) ||
        !readNumber(o, "maxGapMs", 0, 3600000, maxGap, true) || !readNumber(o, "maxDtxMs", 0, 3600000, maxDtx, true) ||
        !readNumber(o, "dtxDelayMs", 0, 60000, dtxDelay, true)) {
      throwCode(env, "EINVAL", "invalid transcoder options");
      return;
    }
    spec.inCnPt = static_cast<int>(cn);
    spec.outCnPt = static_cast<int>(cnOut);
    spec.silenceDbov = static_cast<int>(silence);
    spec.ssrc = static_cast<int64_t>(ssrc);
    spec.startSeq = static_cast<int64_t>(startSeq);
    spec.startTs = static_cast<int64_t>(startTs);
    spec.maxGapMs = static_cast<int>(maxGap);
    spec.maxDtxMs = static_cast<int>(maxDtx);
    spec.dtxDelayMs = static_cast<int>(dtxDelay);
    if (!readDtxOptions(env, o, spec.dtx)) return;
    std::string err;
    t_ = Transcoder::create(spec, err);
    if (!t_) throwCode(env, "ECODEC", err);
  }

 private:
  Napi::Value Input(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!t_ || info.Length() < 1 || !info[0].IsBuffer()) {
      throwCode(env, "EINVAL", "input(packet: Buffer, nowMs?: number)");
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    int64_t now = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : 0;
    if (!t_->input(b.Data(), b.Length(), now, sink_)) return env.Null();
    return sink_.toArray(env);
  }

  // run(packets: Buffer[], rounds: number): { packetsOut, bytesOut, ns, allocations }
  // Feeds the packets `rounds` times from C++ (sequence numbers and
  // timestamps continued across rounds), with a sink that only counts: for
  // benchmarks. allocations counts heap allocations made meanwhile when a
  // counting allocator is preloaded (it exports rtpe_alloc_count), else -1.
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!t_ || info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) {
      throwCode(env, "EINVAL", "run(packets: Buffer[], rounds: number)");
      return env.Undefined();
    }
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::vector<uint8_t>> pkts;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsBuffer()) continue;
      Napi::Buffer<uint8_t> b = v.As<Napi::Buffer<uint8_t>>();
      if (b.Length() >= 12) pkts.emplace_back(b.Data(), b.Data() + b.Length());
    }
    const int rounds = info[1].As<Napi::Number>().Int32Value();
    if (pkts.empty() || rounds < 1) return env.Undefined();
    struct CountSink : RtpSink {
      uint64_t packets = 0, bytes = 0;
      void send(const uint8_t*, size_t len) override {
        packets++;
        bytes += len;
      }
    } sink;
    const uint16_t seq0 = static_cast<uint16_t>((pkts[0][2] << 8) | pkts[0][3]);
    const uint32_t ts0 = (static_cast<uint32_t>(pkts[0][4]) << 24) | (static_cast<uint32_t>(pkts[0][5]) << 16) |
                         (static_cast<uint32_t>(pkts[0][6]) << 8) | pkts[0][7];
    const uint32_t lastTs = (static_cast<uint32_t>(pkts.back()[4]) << 24) | (static_cast<uint32_t>(pkts.back()[5]) << 16) |
                            (static_cast<uint32_t>(pkts.back()[6]) << 8) | pkts.back()[7];
    const uint32_t span = (lastTs - ts0) + (pkts.size() > 1 ? (lastTs - ts0) / static_cast<uint32_t>(pkts.size() - 1) : 160);
    std::vector<uint8_t> scratch(65536);
    using CountFn = uint64_t (*)();
    static CountFn count = reinterpret_cast<CountFn>(dlsym(RTLD_DEFAULT, "rtpe_alloc_count"));
    // Warm-up round, not measured.
    uint64_t sent = 0;
    auto feed = [&](int round) {
      for (size_t i = 0; i < pkts.size(); i++) {
        const std::vector<uint8_t>& p = pkts[i];
        std::memcpy(scratch.data(), p.data(), p.size());
        uint16_t seq = static_cast<uint16_t>(seq0 + (round * pkts.size() + i));
        uint32_t ts = (static_cast<uint32_t>(p[4]) << 24 | static_cast<uint32_t>(p[5]) << 16 |
                       static_cast<uint32_t>(p[6]) << 8 | p[7]) + static_cast<uint32_t>(round) * span;
        scratch[2] = static_cast<uint8_t>(seq >> 8);
        scratch[3] = static_cast<uint8_t>(seq);
        scratch[4] = static_cast<uint8_t>(ts >> 24);
        scratch[5] = static_cast<uint8_t>(ts >> 16);
        scratch[6] = static_cast<uint8_t>(ts >> 8);
        scratch[7] = static_cast<uint8_t>(ts);
        t_->input(scratch.data(), p.size(), static_cast<int64_t>(sent++) * 20, sink);
      }
    };
    feed(0);
    sink.packets = sink.bytes = 0;
    const uint64_t a0 = count ? count() : 0;
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 1; r <= rounds; r++) feed(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const uint64_t a1 = count ? count() : 0;
    Napi::Object o = Napi::Object::New(env);
    o.Set("packetsOut", Napi::Number::New(env, static_cast<double>(sink.packets)));
    o.Set("bytesOut", Napi::Number::New(env, static_cast<double>(sink.bytes)));
    o.Set("ns", Napi::Number::New(env, (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)));
    o.Set("allocations", Napi::Number::New(env, count ? static_cast<double>(a1 - a0) : -1.0));
    return o;
  }

  Napi::Value Tick(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!t_ || info.Length() < 1 || !info[0].IsNumber()) {
      throwCode(env, "EINVAL", "tick(nowMs: number)");
      return env.Undefined();
    }
    t_->tick(info[0].As<Napi::Number>().Int64Value(), sink_);
    return sink_.toArray(env);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!t_) return o;
    const TranscoderStats& s = t_->stats();
    auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    set("packetsIn", s.packetsIn);
    set("packetsOut", s.packetsOut);
    set("bytesOut", s.bytesOut);
    set("framesDecoded", s.framesDecoded);
    set("framesEncoded", s.framesEncoded);
    set("errors", s.errors);
    set("dropped", s.dropped);
    set("cnIn", s.cnIn);
    set("cnOut", s.cnOut);
    set("concealedSamples", s.concealedSamples);
    set("resyncs", s.resyncs);
    set("dtxGaps", s.dtxGaps);
    set("dtxShifts", s.dtxShifts);
    set("nsDecode", s.nsDecode);
    set("nsEncode", s.nsEncode);
    set("nsTotal", s.nsTotal);
    return o;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!t_) return o;
    o.Set("decoderRate", Napi::Number::New(env, t_->decoderRate()));
    o.Set("encoderRate", Napi::Number::New(env, t_->encoderRate()));
    o.Set("encoderChannels", Napi::Number::New(env, t_->encoderChannels()));
    o.Set("packetSamples", Napi::Number::New(env, t_->packetSamples()));
    return o;
  }

  std::unique_ptr<Transcoder> t_;
  CollectSink sink_;
};

Napi::Value CodecAvailable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) {
    throwCode(env, "EINVAL", "codecAvailable(backend: string, encode: boolean)");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, backendAvailable(info[0].As<Napi::String>().Utf8Value(), info[1].ToBoolean().Value()));
}

Napi::Value CnDescribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
    throwCode(env, "EINVAL", "cnDescribe(samples: Int16Array, order?: number)");
    return env.Undefined();
  }
  Napi::Int16Array a = info[0].As<Napi::Int16Array>();
  int order = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : CnEncoder::kOrder;
  uint8_t out[1 + CnEncoder::kOrder];
  int n = CnEncoder::describe(a.Data(), static_cast<int>(a.ElementLength()), out, sizeof(out), order);
  return Napi::Buffer<uint8_t>::Copy(env, out, static_cast<size_t>(n));
}

Napi::Value CnGenerate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    throwCode(env, "EINVAL", "cnGenerate(payload: Buffer, samples: number)");
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  int n = info[1].As<Napi::Number>().Int32Value();
  if (n < 0 || n > 480000) {
    throwCode(env, "EINVAL", "samples out of range");
    return env.Undefined();
  }
  CnDecoder dec;
  if (!dec.update(b.Data(), b.Length())) {
    throwCode(env, "EINVAL", "empty CN payload");
    return env.Undefined();
  }
  Napi::Int16Array out = Napi::Int16Array::New(env, static_cast<size_t>(n));
  dec.generate(out.Data(), n);
  return out;
}

}  // namespace

void registerCodecExports(Napi::Env env, Napi::Object exports) {
  exports.Set("codecAvailable", Napi::Function::New(env, CodecAvailable, "codecAvailable"));
  exports.Set("Transcoder", TranscoderWrap::Define(env));
  exports.Set("cnDescribe", Napi::Function::New(env, CnDescribe, "cnDescribe"));
  exports.Set("cnGenerate", Napi::Function::New(env, CnGenerate, "cnGenerate"));
}

}  // namespace codec
}  // namespace rtpe
