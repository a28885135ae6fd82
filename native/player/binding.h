// The player's exports to JavaScript (preparePlayback, prepareDtmf; see
// binding.cc) and the reader of the play lists they return. Runs on the
// JavaScript thread.
#pragma once

#include <napi.h>

#include <memory>

#include "audio_player.h"
#include "playlist.h"

namespace rtpe {
namespace player {

void registerPlayerExports(Napi::Env env, Napi::Object exports);

// Reads a play list handle returned by preparePlayback/prepareDtmf. Returns
// false with an EINVAL error thrown when v is not one.
bool readPlayList(Napi::Env env, Napi::Value v, std::shared_ptr<const PlayList>& out);

// Builds an audio player from its spec ({ inputs: NativeCodecSpec[], out,
// bufferMs, delayMs, transient }; AudioPlayerSpec in src/media/engine.ts).
// Returns false with an EINVAL error thrown when the spec is malformed or a
// codec cannot be built. Allocates.
bool readAudioPlayer(Napi::Env env, Napi::Value v, std::shared_ptr<AudioPlayer>& out);

}  // namespace player
}  // namespace rtpe
