// Adds the codec layer's exports (codecAvailable, the test-only Transcoder,
// cnDescribe, cnGenerate; see binding.cc) to the addon's exports object.
// Runs on the JavaScript thread at load time.
#pragma once

#include <napi.h>

#include "codec.h"
#include "dtx.h"

namespace rtpe {
namespace codec {

void registerCodecExports(Napi::Env env, Napi::Object exports);

// Reads a NativeCodecSpec object (src/codec/table.ts). Returns false with an
// EINVAL error thrown when it is malformed. Runs on the JavaScript thread.
bool readCodecSpec(Napi::Env env, Napi::Value v, CodecSpec& s);

// Reads the DTX fields of a CodecRoute or Transcoder options object
// (dtxBuffered, dtxBufferPackets, dtxLagMs, dtxShiftMs, dtxCnParams,
// cnPayload, amrDtxCn; all optional). Returns false with an EINVAL error
// thrown when one is malformed. Runs on the JavaScript thread.
bool readDtxOptions(Napi::Env env, Napi::Object o, DtxOptions& d);

}  // namespace codec
}  // namespace rtpe
