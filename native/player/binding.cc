// JavaScript bindings of the player (see binding.h).
//
//   preparePlayback({ file?: string, blob?: Buffer, startMs: number,
//                     codec: NativeCodecSpec, pcm?: boolean })
//                                              -> Promise<{ list, durationMs }>
//     pcm: the list holds the media as PCM at the rate the codec's encoder
//     takes, for an audio player's mix (PlayList::pcm), not RTP for the party.
//   prepareDtmf({ event, durationMs, volume, pauseMs, eventPt, clockRate,
//                 ptime, codec?: NativeCodecSpec }) -> { list, durationMs }
//
// Both prepare everything a playback sends (decoding, encoding): media on a
// libuv worker thread, DTMF (at most a few seconds of tone) on the calling
// JavaScript thread. `list` is an opaque handle for
// Engine.play() and may be kept for reuse (--player-cache). Failures throw (or
// reject with) an Error whose code is EMEDIA (the media cannot be read or
// decoded) or EINVAL.
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

// Decodes and encodes a media file or blob on a libuv worker thread, so that
// a long file does not hold up the JavaScript thread (a minute of opus takes
// about two seconds to encode), and settles a promise with the play list.
class PrepareWorker : public Napi::AsyncWorker {
 public:
  PrepareWorker(Napi::Env env, codec::CodecSpec spec, std::string path, std::vector<uint8_t> blob, bool isBlob,
                int startMs, bool pcm)
      : Napi::AsyncWorker(env, "rtpengine-player-prepare"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spec_(std::move(spec)),
        path_(std::move(path)),
        blob_(std::move(blob)),
        isBlob_(isBlob),
        startMs_(startMs),
        pcm_(pcm) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  // Runs on a libuv worker thread; blocks (file I/O, encoding).
  void Execute() override {
    const int rate = pcmRateFor(spec_);
    std::vector<int16_t> pcm;
    int64_t duration = 0;
    std::string err;
    if (!decodeMedia(path_, isBlob_ ? blob_.data() : nullptr, blob_.size(), rate, pcm, duration, err)) {
      code_ = "EMEDIA";
      message_ = err;
      return;
    }
    // start-pos: playback begins that far into the media.
    size_t skip = startMs_ > 0 ? static_cast<size_t>(startMs_) * static_cast<size_t>(rate) / 1000 : 0;
    if (skip >= pcm.size()) {
      code_ = "EMEDIA";
      message_ = "start position " + std::to_string(startMs_) + " ms is past the end of the media (" +
                 std::to_string(duration) + " ms)";
      return;
    }
    list_ = pcm_ ? pcmList(pcm.data() + skip, pcm.size() - skip, rate)
                 : encodePcm(pcm.data() + skip, pcm.size() - skip, rate, spec_, err);
    if (!list_ || list_->packets.empty()) {
      if (list_) err = "no audio was decoded";
      list_.reset();
      code_ = "EINVAL";
      message_ = err;
      return;
    }
    list_->durationMs = duration;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!list_) {
      Napi::Error e = Napi::Error::New(env, message_);
      e.Set("code", Napi::String::New(env, code_));
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(result(env, std::move(list_)));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  codec::CodecSpec spec_;
  std::string path_;
  std::vector<uint8_t> blob_;
  bool isBlob_;
  int startMs_;
  bool pcm_;
  std::shared_ptr<PlayList> list_;
  std::string code_, message_;
};

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
  std::vector<uint8_t> blob;
  bool isBlob = false;
  Napi::Value b = o.Get("blob");
  if (b.IsBuffer()) {
    // Copied: the worker thread must not read a buffer the JavaScript side owns.
    auto buf = b.As<Napi::Buffer<uint8_t>>();
    if (buf.Length() == 0) {
      fail(env, "EMEDIA", "the media is empty");
      return env.Undefined();
    }
    blob.assign(buf.Data(), buf.Data() + buf.Length());
    isBlob = true;
  } else if (o.Get("file").IsString()) {
    path = o.Get("file").As<Napi::String>().Utf8Value();
  } else {
    fail(env, "EINVAL", "preparePlayback needs a file or a blob");
    return env.Undefined();
  }
  auto* w = new PrepareWorker(env, std::move(spec), std::move(path), std::move(blob), isBlob, intField(o, "startMs", 0),
                             o.Get("pcm").ToBoolean().Value());
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
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

bool readAudioPlayer(Napi::Env env, Napi::Value v, std::shared_ptr<AudioPlayer>& out) {
  if (!v.IsObject()) {
    fail(env, "EINVAL", "an audio player spec must be an object");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  AudioPlayerSpec spec;
  if (!codec::readCodecSpec(env, o.Get("out"), spec.out)) return false;
  Napi::Value ins = o.Get("inputs");
  if (!ins.IsArray()) {
    fail(env, "EINVAL", "an audio player's inputs must be an array of codecs");
    return false;
  }
  Napi::Array arr = ins.As<Napi::Array>();
  spec.inputs.resize(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    if (!codec::readCodecSpec(env, arr.Get(i), spec.inputs[i])) return false;
  }
  spec.bufferMs = intField(o, "bufferMs", -1);
  spec.delayMs = intField(o, "delayMs", -1);
  if (spec.bufferMs < 1 || spec.bufferMs > 60000 || spec.delayMs < 0 || spec.delayMs > 60000) {
    fail(env, "EINVAL", "audio buffer length must be 1..60000 ms and its delay 0..60000 ms");
    return false;
  }
  spec.transient = o.Get("transient").ToBoolean().Value();
  std::string err;
  out = AudioPlayer::create(spec, err);
  if (!out) {
    fail(env, "EINVAL", err);
    return false;
  }
  return true;
}

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
