// Playback of a PlayList into one stream direction, and the continuity of the
// RTP stream its receiver sees.
//
// A Player is attached to the stream whose received packets go to the party
// being played to (the other side's stream, whose sink faces that party). It
// is created on the JavaScript thread and handed to that stream's engine
// thread (Worker::play); from then on only that thread touches it. The relay
// sends each packet when its time has come (Relay::playIfDue), copying the
// prepared payload behind a header written in place: nothing is allocated or
// encoded per packet. While a Player is attached, the RTP the stream receives
// is not forwarded (the played media replaces it); RTCP still is. The
// exception is a PCM list (PlayList::pcm), played into the stream's audio
// player (audio_player.h), which mixes it with what the stream receives.
//
// Continuity. Whatever leaves a stream direction is one RTP stream for the
// receiver: a playback continues the SSRC, sequence numbers and timestamps
// (advanced by the time elapsed) of the last packet forwarded, and starts with
// the marker bit; a queued playback continues it in turn; when the last one
// ends, forwarded packets are shifted onto the
// playback's timeline. OutputTimeline keeps that state per stream.
#pragma once

#include <cstdint>
#include <memory>

#include "playlist.h"

namespace rtpe {
namespace player {

class Player {
 public:
  // repeat: passes over the list (at least 1).
  Player(std::shared_ptr<const PlayList> list, int repeat)
      : list_(std::move(list)), repeat_(repeat < 1 ? 1 : repeat) {}
  const PlayList& list() const { return *list_; }
  // Mixed into the stream's audio player (PlayList::pcm) instead of replacing
  // the forwarded packets.
  bool mixes() const { return list_->pcm; }

  // Engine-thread state.
  bool started = false;
  int64_t startMs = 0;
  size_t next = 0;   // index of the next packet in the list
  int pass = 0;      // current pass
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t baseTs = 0;

  // The playback queued to follow this one (play DTMF while a digit is still
  // being sent): it starts where this one's timeline ends, pause included.
  std::shared_ptr<Player> queued;

  int repeat() const { return repeat_; }
  bool done() const { return pass >= repeat_; }
  // When the next packet is due (monotonic ms); valid while !done().
  int64_t nextDueMs() const {
    return startMs + static_cast<int64_t>(pass) * list_->spanMs + list_->packets[next].dueMs;
  }

 private:
  std::shared_ptr<const PlayList> list_;
  int repeat_;
};

// The RTP stream leaving one stream direction. Engine thread only.
class OutputTimeline {
 public:
  // A forwarded RTP packet (header writable): shifted onto the timeline of a
  // previous playback if there was one, then remembered. Never blocks.
  void forwarded(uint8_t* pkt, int64_t nowMs);
  // Where a playback starting now continues: ssrc, seq and ts of its first
  // packet, with the clock of its media. Picks random ones when nothing was
  // sent yet.
  void continueAt(int64_t nowMs, uint32_t clockRate, uint32_t& ssrc, uint16_t& seq, uint32_t& ts);
  // A packet the player sent.
  void played(uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t nowMs) {
    remember(ssrc, seq, ts, nowMs);
  }
  // The playback ended at nowMs, where its timeline had reached tsNow (past
  // its last packet's timestamp when that was an RFC 4733 event, which keeps
  // the event's start): the next forwarded packet continues after it.
  void playbackEnded(uint32_t clockRate, uint32_t tsNow, int64_t nowMs) {
    rebase_ = true;
    clock_ = clockRate;
    ts_ = tsNow;
    ms_ = nowMs;
  }

 private:
  void remember(uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t ms) {
    have_ = true;
    ssrc_ = ssrc;
    seq_ = seq;
    ts_ = ts;
    ms_ = ms;
  }
  bool have_ = false;
  uint32_t ssrc_ = 0;
  uint16_t seq_ = 0;
  uint32_t ts_ = 0;
  int64_t ms_ = 0;
  uint32_t clock_ = 8000;
  bool rebase_ = false;
  // Applied to forwarded packets after a playback.
  bool shifted_ = false;
  uint16_t seqDelta_ = 0;
  uint32_t tsDelta_ = 0;
  uint32_t ssrcOut_ = 0;
};

}  // namespace player
}  // namespace rtpe
