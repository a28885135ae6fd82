// JavaScript bindings of the player (see binding.h).
//
//   preparePlayback({ file?: string, blob?: Buffer, startMs: number,
//                     codec: NativeCodecSpec })  -> { list, durationMs }
//   prepareDtmf({ event, durationMs, volume, pauseMs, eventPt, clockRate,
//                 ptime, codec?: NativeCodecSpec }) -> { list, durationMs }
//
// Both prepare everything a playback sends (decoding, encoding) before they
// return, on the calling (JavaScript) thread; `list` is an opaque handle for
// Engine.play() and may be kept for reuse (--player-cache). Failures throw an
// Error whose code is EMEDIA (the media cannot be read or decoded) or EINVAL.
#include "binding.h"

#include <string>
#include <vector>

#include "../codec/binding.h"

namespace rtpe {
namespace player {

namespace {

using Handle = std::shared_ptr<const PlayList>;

void fail(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
}

int intField(Napi::Object o, const char* key, int dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : dflt;
}

Napi::Value result(Napi::Env env, Handle list) {
  Napi::Object out = Napi::Object::New(env);
  int64_t duration = list->durationMs;
  out.Set("durationMs", Napi::Number::New(env, static_cast<double>(duration)));
  out.Set("list", Napi::External<Handle>::New(env, new Handle(std::move(list)), [](Napi::Env, Handle* h) { delete h; }));
  return out;
}

Napi::Value PreparePlayback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    fail(env, "EINVAL", "preparePlayback expects an options object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  codec::CodecSpec spec;
  if (!codec::readCodecSpec(env, o.Get("codec"), spec)) return env.Undefined();
  std::string path;
  const uint8_t* data = nullptr;
  size_t len = 0;
  Napi::Value blob = o.Get("blob");
  if (blob.IsBuffer()) {
    auto b = blob.As<Napi::Buffer<uint8_t>>();
    data = b.Data();
    len = b.Length();
    if (len == 0) {
      fail(env, "EMEDIA", "the media is empty");
      return env.Undefined();
    }
  } else if (o.Get("file").IsString()) {
    path = o.Get("file").As<Napi::String>().Utf8Value();
  } else {
    fail(env, "EINVAL", "preparePlayback needs a file or a blob");
    return env.Undefined();
  }
  const int rate = pcmRateFor(spec);
  std::vector<int16_t> pcm;
  int64_t duration = 0;
  std::string err;
  if (!decodeMedia(path, data, len, rate, pcm, duration, err)) {
    fail(env, "EMEDIA", err);
    return env.Undefined();
  }
  // start-pos: playback begins that far into the media.
  const int startMs = intField(o, "startMs", 0);
  size_t skip = startMs > 0 ? static_cast<size_t>(startMs) * static_cast<size_t>(rate) / 1000 : 0;
  if (skip >= pcm.size()) {
    fail(env, "EMEDIA", "start position " + std::to_string(startMs) + " ms is past the end of the media (" +
                            std::to_string(duration) + " ms)");
    return env.Undefined();
  }
  std::shared_ptr<PlayList> list = encodePcm(pcm.data() + skip, pcm.size() - skip, rate, spec, err);
  if (!list) {
    fail(env, "EINVAL", err);
    return env.Undefined();
  }
  list->durationMs = duration;
  return result(env, std::move(list));
}

Napi::Value PrepareDtmf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    fail(env, "EINVAL", "prepareDtmf expects an options object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  const int event = intField(o, "event", -1);
  const int duration = intField(o, "durationMs", 250);
  const int volume = intField(o, "volume", 8);
  const int pause = intField(o, "pauseMs", 100);
  const int eventPt = intField(o, "eventPt", -1);
  if (event < 0 || event > 15 || duration <= 0 || duration > 60000 || pause < 0 || pause > 60000 || volume < 0 ||
      volume > 63 || eventPt > 127) {
    fail(env, "EINVAL", "DTMF event, duration, pause or volume out of range");
    return env.Undefined();
  }
  if (eventPt >= 0) {
    const int clock = intField(o, "clockRate", 8000);
    const int ptime = intField(o, "ptime", 20);
    if (clock <= 0 || ptime <= 0) {
      fail(env, "EINVAL", "DTMF clock rate and ptime must be positive");
      return env.Undefined();
    }
    return result(env, dtmfEvent(event, duration, volume, pause, static_cast<uint8_t>(eventPt),
                                 static_cast<uint32_t>(clock), ptime));
  }
  // In-band: the tone pair encoded in the party's codec.
  codec::CodecSpec spec;
  if (!codec::readCodecSpec(env, o.Get("codec"), spec)) return env.Undefined();
  std::vector<int16_t> pcm;
  std::string err;
  if (!dtmfTone(event, duration, volume, pause, 8000, pcm, err)) {
    fail(env, "EINVAL", err);
    return env.Undefined();
  }
  std::shared_ptr<PlayList> list = encodePcm(pcm.data(), pcm.size(), 8000, spec, err);
  if (!list) {
    fail(env, "EINVAL", err);
    return env.Undefined();
  }
  list->durationMs = duration;
  return result(env, std::move(list));
}

}  // namespace

bool readPlayList(Napi::Env env, Napi::Value v, std::shared_ptr<const PlayList>& out) {
  if (!v.IsExternal()) {
    fail(env, "EINVAL", "not a play list");
    return false;
  }
  Handle* h = v.As<Napi::External<Handle>>().Data();
  if (!h || !*h) {
    fail(env, "EINVAL", "not a play list");
    return false;
  }
  out = *h;
  return true;
}

void registerPlayerExports(Napi::Env env, Napi::Object exports) {
  exports.Set("preparePlayback", Napi::Function::New(env, PreparePlayback, "preparePlayback"));
  exports.Set("prepareDtmf", Napi::Function::New(env, PrepareDtmf, "prepareDtmf"));
}

}  // namespace player
}  // namespace rtpe
