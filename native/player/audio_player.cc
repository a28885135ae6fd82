// The audio player and its mix buffer: see audio_player.h.
#include "audio_player.h"

#include <algorithm>
#include <cstring>

#include "../bytes.h"
#include "playlist.h"

namespace rtpe {
namespace player {

namespace {

// Linear PCM as the codec layer carries it: mono L16 at `rate`.
codec::CodecSpec l16(int rate, int ptime) {
  codec::CodecSpec s;
  s.name = "L16";
  s.decoder = "internal:l16";
  s.encoder = "internal:l16";
  s.packetizer = codec::Packetizer::Samples;
  s.clockRate = static_cast<uint32_t>(rate);
  s.sampleRate = static_cast<uint32_t>(rate);
  s.channels = 1;
  s.payloadType = 96;
  s.ptime = static_cast<uint16_t>(ptime);
  return s;
}

// Output packets the engine thread may fall behind by before they are skipped
// instead of sent in a burst.
constexpr int64_t kMaxBehindMs = 100;

}  // namespace

void MixBuffer::init(size_t samples, size_t delaySamples) {
  size_ = samples;
  delay_ = delaySamples;
  ring_.reset(new int16_t[samples]());
  readPos_ = 0;
}

bool MixBuffer::write(Source& src, const uint8_t* be, size_t n) {
  if (!src.active || src.writePos < readPos_) {
    src.active = true;
    src.writePos = readPos_ + static_cast<int64_t>(delay_);
  }
  const int64_t room = readPos_ + static_cast<int64_t>(size_) - src.writePos;
  size_t fit = room <= 0 ? 0 : std::min(n, static_cast<size_t>(room));
  size_t at = static_cast<size_t>(src.writePos % static_cast<int64_t>(size_));
  for (size_t i = 0; i < fit; i++) {
    int32_t v = ring_[at] + static_cast<int16_t>(be16(be + 2 * i));
    ring_[at] = static_cast<int16_t>(std::clamp(v, -32768, 32767));
    if (++at == size_) at = 0;
  }
  src.writePos += static_cast<int64_t>(fit);
  return fit == n;
}

void MixBuffer::read(uint8_t* out, size_t n) {
  size_t at = static_cast<size_t>(readPos_ % static_cast<int64_t>(size_));
  for (size_t i = 0; i < n; i++) {
    putBe16(out + 2 * i, static_cast<uint16_t>(ring_[at]));
    ring_[at] = 0;
    if (++at == size_) at = 0;
  }
  readPos_ += static_cast<int64_t>(n);
}

void MixBuffer::skip(size_t n) {
  size_t at = static_cast<size_t>(readPos_ % static_cast<int64_t>(size_));
  for (size_t i = 0; i < n; i++) {
    ring_[at] = 0;
    if (++at == size_) at = 0;
  }
  readPos_ += static_cast<int64_t>(n);
}

std::shared_ptr<AudioPlayer> AudioPlayer::create(const AudioPlayerSpec& spec, std::string& err) {
  std::shared_ptr<AudioPlayer> p(new AudioPlayer());
  p->spec_ = spec;
  const int ptime = spec.out.ptime > 0 ? spec.out.ptime : 20;
  p->rate_ = pcmRateFor(spec.out);
  p->chunk_ = static_cast<size_t>(p->rate_) * static_cast<size_t>(ptime) / 1000;
  const size_t size = static_cast<size_t>(p->rate_) * static_cast<size_t>(std::max(spec.bufferMs, 0)) / 1000;
  if (p->chunk_ == 0 || size < 2 * p->chunk_) {
    err = "the audio buffer (" + std::to_string(spec.bufferMs) + " ms) must hold at least two packets of " +
          std::to_string(ptime) + " ms";
    return nullptr;
  }
  size_t delay = static_cast<size_t>(p->rate_) * static_cast<size_t>(std::max(spec.delayMs, 0)) / 1000;
  p->buf_.init(size, std::min(delay, size - p->chunk_));
  std::fill(std::begin(p->byPt_), std::end(p->byPt_), -1);
  for (const codec::CodecSpec& in : spec.inputs) {
    if (in.payloadType > 127 || p->byPt_[in.payloadType] >= 0) continue;
    codec::TranscoderSpec ts;
    ts.in = in;
    ts.out = l16(p->rate_, 20);
    std::unique_ptr<codec::Transcoder> t = codec::Transcoder::create(ts, err);
    if (!t) return nullptr;
    p->byPt_[in.payloadType] = static_cast<int8_t>(p->decoders_.size());
    p->decoders_.push_back(std::move(t));
  }
  codec::TranscoderSpec es;
  es.in = l16(p->rate_, ptime);
  es.out = spec.out;
  es.maxGapMs = 1 << 30;
  p->enc_ = codec::Transcoder::create(es, err);
  if (!p->enc_) return nullptr;
  p->pkt_.reset(new uint8_t[12 + 2 * p->chunk_]());
  return p;
}

void AudioPlayer::start(int64_t nowMs, uint32_t ssrc, uint16_t seq, uint32_t ts) {
  started_ = true;
  startMs_ = nowMs;
  nextDueMs_ = nowMs;
  enc_->continueOutput(ssrc, seq, ts);
}

bool AudioPlayer::input(const uint8_t* pkt, size_t len, int64_t nowMs) {
  const int i = byPt_[pkt[1] & 0x7f];
  if (i < 0) return false;
  fwdOverflow_ = false;
  decoders_[static_cast<size_t>(i)]->input(pkt, len, nowMs, collect_);
  return !fwdOverflow_;
}

void AudioPlayer::Collect::send(const uint8_t* packet, size_t len) {
  // The decoders' output: L16 behind a plain 12-byte header.
  if (len <= 12) return;
  if (!p_.buf_.write(p_.fwd_, packet + 12, (len - 12) / 2)) p_.fwdOverflow_ = true;
}

void AudioPlayer::tick(int64_t nowMs, codec::RtpSink& out) {
  if (!started_) return;
  const int ptime = spec_.out.ptime > 0 ? spec_.out.ptime : 20;
  if (nowMs - nextDueMs_ > kMaxBehindMs) {
    // The thread was held up: the output resumes now, its timestamps jumping
    // over the time lost rather than sending the backlog in a burst.
    const int64_t behind = (nowMs - nextDueMs_) / ptime;
    buf_.skip(static_cast<size_t>(behind) * chunk_);
    chunks_ += static_cast<uint64_t>(behind);
    nextDueMs_ += behind * ptime;
    if (enc_->started()) {
      // The encoder restarts its input there (nothing to conceal), its output
      // numbering continuing and its timestamps as far ahead as the time skipped.
      const uint64_t step = static_cast<uint64_t>(ptime) * spec_.out.clockRate / 1000;
      enc_->continueOutput(enc_->outputSsrc(), enc_->nextSeq(),
                           enc_->nextTs() + static_cast<uint32_t>(static_cast<uint64_t>(behind) * step));
    }
  }
  while (nextDueMs_ <= nowMs) {
    uint8_t* h = pkt_.get();
    h[0] = 0x80;
    h[1] = 96;
    putBe16(h + 2, inSeq_++);
    putBe32(h + 4, static_cast<uint32_t>(buf_.readPos()));
    putBe32(h + 8, 1);
    buf_.read(h + 12, chunk_);
    if (!held_) enc_->input(h, 12 + 2 * chunk_, nextDueMs_, out);
    chunks_++;
    nextDueMs_ = startMs_ + static_cast<int64_t>(chunks_) * ptime;
  }
}

uint32_t AudioPlayer::tsAt(int64_t nowMs) const {
  const int ptime = spec_.out.ptime > 0 ? spec_.out.ptime : 20;
  // The next packet carries enc_->nextTs() and is due at nextDueMs_.
  const int64_t d = nowMs - nextDueMs_ + ptime;
  const uint32_t last = enc_->nextTs() - static_cast<uint32_t>(static_cast<uint64_t>(ptime) * spec_.out.clockRate / 1000);
  return last + static_cast<uint32_t>(static_cast<int64_t>(d > 0 ? d : 0) * spec_.out.clockRate / 1000);
}

}  // namespace player
}  // namespace rtpe
