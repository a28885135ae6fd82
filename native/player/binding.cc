// JavaScript bindings of the player (see binding.h).
//
//   preparePlayback({ file?: string, blob?: Buffer, db?: { host, port?, user?,
//                     pass?, query }, startMs: number, codec: NativeCodecSpec,
//                     pcm?: boolean })
//                     -> Promise<{ list, durationMs }>
//     pcm: the list holds the media as PCM at the rate the codec's encoder
//     takes, for an audio player's mix (PlayList::pcm), not RTP for the party.
//   configurePlayer({ threads })  (--media-num-threads)
//   prepareDtmf({ event, durationMs, volume, pauseMs, eventPt, clockRate,
//                 ptime, codec?: NativeCodecSpec }) -> { list, durationMs }
//
// Both prepare everything a playback sends (decoding, encoding): media on a
// media preparation thread (prep-pool.h), DTMF (at most a few seconds of tone) on the calling
// JavaScript thread. `list` is an opaque handle for
// Engine.play() and may be kept for reuse (--player-cache). Failures throw (or
// reject with) an Error whose code is EMEDIA (the media cannot be read or
// decoded), EDB (the database gave no media), EDISABLED (no preparation
// threads) or EINVAL.
#include "binding.h"

#include <memory>
#include <string>
#include <vector>

#include "../codec/binding.h"
#include "media-db.h"
#include "prep-pool.h"

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

// One `play media` preparation, handed from the JavaScript thread to a media
// preparation thread (prep-pool.h) and back: it fetches the media from the
// database when asked to, decodes it, encodes it into the output codec, and
// settles a promise with the play list. A minute of opus takes about two
// seconds to encode, and a database may be slow: neither holds up the
// JavaScript thread.
struct PrepJob {
  PrepJob(Napi::Env env, codec::CodecSpec spec, int startMs)
      : deferred(Napi::Promise::Deferred::New(env)), spec(std::move(spec)), startMs(startMs) {}

  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction done;
  codec::CodecSpec spec;
  int startMs;
  // The media: a file name, bytes, or the query that returns them.
  std::string path;
  std::vector<uint8_t> blob;
  bool isBlob = false;
  bool fromDb = false;
  DbConfig db;
  std::string query;
  // PCM for an audio player's mix instead of RTP for the party.
  bool asPcm = false;
  // What came out.
  std::shared_ptr<PlayList> list;
  std::string code, message;

  // Runs on a media preparation thread; blocks (database, file I/O, encoding).
  void execute() {
    if (fromDb) {
      if (!fetchMediaBlob(db, query, blob, message)) {
        code = "EDB";
        message = "used query '" + query + "': " + message;
        return;
      }
      isBlob = true;
    }
    const int rate = pcmRateFor(spec);
    std::vector<int16_t> pcm;
    int64_t duration = 0;
    if (!decodeMedia(path, isBlob ? blob.data() : nullptr, blob.size(), rate, pcm, duration, message)) {
      code = "EMEDIA";
      return;
    }
    // start-pos: playback begins that far into the media.
    size_t skip = startMs > 0 ? static_cast<size_t>(startMs) * static_cast<size_t>(rate) / 1000 : 0;
    if (skip >= pcm.size()) {
      code = "EMEDIA";
      message = "start position " + std::to_string(startMs) + " ms is past the end of the media (" +
                std::to_string(duration) + " ms)";
      return;
    }
    list = asPcm ? pcmList(pcm.data() + skip, pcm.size() - skip, rate)
                 : encodePcm(pcm.data() + skip, pcm.size() - skip, rate, spec, message);
    if (!list || list->packets.empty()) {
      if (list) message = "no audio was decoded";
      list.reset();
      code = "EINVAL";
      return;
    }
    list->durationMs = duration;
  }

  // Runs on the JavaScript thread.
  void settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (!list) {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("code", Napi::String::New(env, code));
      deferred.Reject(e.Value());
      return;
    }
    deferred.Resolve(result(env, std::move(list)));
  }
};

// Queues a job on the preparation threads and returns its promise.
Napi::Value queuePrep(Napi::Env env, PrepJob* job) {
  Napi::Promise promise = job->deferred.Promise();
  job->done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "rtpengine-player-prepare", 0, 1);
  bool queued = submitPrep([job] {
    job->execute();
    Napi::ThreadSafeFunction t = job->done;
    if (t.BlockingCall(job, [](Napi::Env env, Napi::Function, PrepJob* j) {
          j->settle(env);
          delete j;
        }) != napi_ok)
      delete job;  // the environment is going away: nobody waits for the promise
    t.Release();
  });
  if (!queued) {
    job->done.Release();
    job->code = "EDISABLED";
    job->message = "media playback is disabled (--media-num-threads=0)";
    job->settle(env);
    delete job;
  }
  return promise;
}

bool stringField(Napi::Env env, Napi::Object o, const char* key, bool& has, std::string& out) {
  Napi::Value v = o.Get(key);
  has = v.IsString();
  if (has) out = v.As<Napi::String>().Utf8Value();
  else if (!v.IsUndefined() && !v.IsNull()) {
    fail(env, "EINVAL", std::string("db.") + key + " must be a string");
    return false;
  }
  return true;
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
  auto job = std::make_unique<PrepJob>(env, std::move(spec), intField(o, "startMs", 0));
  job->asPcm = o.Get("pcm").ToBoolean().Value();
  Napi::Value b = o.Get("blob");
  if (b.IsBuffer()) {
    // Copied: the preparation thread must not read a buffer the JavaScript side owns.
    auto buf = b.As<Napi::Buffer<uint8_t>>();
    if (buf.Length() == 0) {
      fail(env, "EMEDIA", "the media is empty");
      return env.Undefined();
    }
    job->blob.assign(buf.Data(), buf.Data() + buf.Length());
    job->isBlob = true;
  } else if (o.Get("file").IsString()) {
    job->path = o.Get("file").As<Napi::String>().Utf8Value();
  } else if (o.Get("db").IsObject()) {
    // { host, port?, user?, pass?, query }: the query already names the media's id.
    Napi::Object d = o.Get("db").As<Napi::Object>();
    bool hasHost = false, hasQuery = false;
    if (!stringField(env, d, "host", hasHost, job->db.host) || !stringField(env, d, "user", job->db.hasUser, job->db.user) ||
        !stringField(env, d, "pass", job->db.hasPass, job->db.pass) || !stringField(env, d, "query", hasQuery, job->query))
      return env.Undefined();
    if (!hasHost || !hasQuery) {
      fail(env, "EINVAL", "db needs a host and a query");
      return env.Undefined();
    }
    job->db.port = intField(d, "port", 0);
    job->fromDb = true;
  } else {
    fail(env, "EINVAL", "preparePlayback needs a file, a blob or a db query");
    return env.Undefined();
  }
  return queuePrep(env, job.release());
}

// configurePlayer({ threads }): the number of media preparation threads
// (--media-num-threads); only before the first preparation.
Napi::Value ConfigurePlayer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    fail(env, "EINVAL", "configurePlayer expects an options object");
    return env.Undefined();
  }
  setPrepThreads(intField(info[0].As<Napi::Object>(), "threads", prepThreads()));
  return env.Undefined();
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
  exports.Set("configurePlayer", Napi::Function::New(env, ConfigurePlayer, "configurePlayer"));
}

}  // namespace player
}  // namespace rtpe
