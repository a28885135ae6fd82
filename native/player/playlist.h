// What a playback sends: a list of RTP payloads prepared ahead of time, each
// with its payload type, timestamp and send time relative to the start of the
// playback (PlayList), and the builders that prepare one on the JavaScript
// thread (or a helper thread): from an audio file or in-memory media decoded
// by libavformat, from an RFC 4733 DTMF event, or from an in-band DTMF tone.
//
// Audio is encoded by the codec layer's own Transcoder (native/codec/): the
// decoded PCM is fed to it as 16-bit linear RTP, so resampling, re-framing to
// the output ptime, encoding and packetization are the ones the relay uses.
//
// A PlayList never changes once built; one list may be played by many streams
// at once (the --player-cache keeps them per file and output codec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../codec/codec.h"

namespace rtpe {
namespace player {

struct PlayPacket {
  uint32_t off;     // of the payload in PlayList::bytes
  uint16_t len;
  uint8_t pt;
  bool marker;      // besides the first packet of a playback
  uint32_t ts;      // RTP timestamp relative to the start, output clock
  uint32_t dueMs;   // send time relative to the start
};

struct PlayList {
  std::vector<uint8_t> bytes;
  std::vector<PlayPacket> packets;
  uint32_t clockRate = 8000;
  // How far one pass advances the timeline: a repeated pass starts this much
  // later, in timestamp units and in milliseconds.
  uint32_t spanTs = 0;
  uint32_t spanMs = 0;
  // Length of the source media (before start-pos), ms.
  int64_t durationMs = 0;
  // The payloads are mono S16 (big-endian) at clockRate, for an audio
  // player's mix buffer (audio_player.h), not RTP for the party.
  bool pcm = false;
};

// Decodes the first audio stream of a media file (path) or of media bytes
// (data, len; path ignored) into mono S16 at `rate`. durationMs is the
// length of what was decoded. Returns false with err naming the problem.
// Blocks (file I/O); call off the engine threads.
bool decodeMedia(const std::string& path, const uint8_t* data, size_t len, int rate, std::vector<int16_t>& pcm,
                 int64_t& durationMs, std::string& err);

// The rate to decode media at for an output codec: the rate its encoder
// runs at, where the linear input can take it, so that no second resampling
// is needed.
int pcmRateFor(const codec::CodecSpec& out);

// Encodes mono S16 PCM at `rate` into the packets of `out` (its payload type,
// ptime and clock), one packet every ptime. Returns null with err set when the
// codec cannot be built. Runs on the JavaScript thread; allocates.
std::shared_ptr<PlayList> encodePcm(const int16_t* pcm, size_t n, int rate, const codec::CodecSpec& out,
                                    std::string& err);

// Splits mono S16 PCM at `rate` into 20 ms payloads for an audio player's
// mix (PlayList::pcm). Runs on the JavaScript thread or a helper; allocates.
std::shared_ptr<PlayList> pcmList(const int16_t* pcm, size_t n, int rate);

// RFC 4733 event packets for one DTMF event (0-15): one packet every
// ptimeMs with the growing duration, the first with the marker bit, then the
// end packet three times; then pauseMs of nothing. volume: dBm0 below 0
// (0..63).
std::shared_ptr<PlayList> dtmfEvent(int event, int durationMs, int volume, int pauseMs, uint8_t pt,
                                    uint32_t clockRate, int ptimeMs);

// The in-band tone pair of a DTMF event (0-15) at `rate`, durationMs long at
// -volume dBm0, followed by pauseMs of silence (spandsp's generator).
bool dtmfTone(int event, int durationMs, int volume, int pauseMs, int rate, std::vector<int16_t>& pcm,
              std::string& err);

}  // namespace player
}  // namespace rtpe
