// Adds the codec layer's exports (codecAvailable, the test-only Transcoder,
// cnDescribe, cnGenerate; see binding.cc) to the addon's exports object.
// Runs on the JavaScript thread at load time.
#pragma once

#include <napi.h>

namespace rtpe {
namespace codec {

void registerCodecExports(Napi::Env env, Napi::Object exports);

}  // namespace codec
}  // namespace rtpe
