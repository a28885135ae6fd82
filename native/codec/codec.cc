// Backend dispatch and fmtp parsing (see codec.h).
#include "codec.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

namespace rtpe {
namespace codec {

bool parsePacketizer(const std::string& s, Packetizer& out) {
  static const struct {
    const char* name;
    Packetizer p;
  } kNames[] = {
      {"samples", Packetizer::Samples}, {"frames", Packetizer::Frames}, {"whole", Packetizer::Whole},
      {"g723", Packetizer::G723},       {"g729", Packetizer::G729},     {"ilbc", Packetizer::Ilbc},
      {"amr", Packetizer::Amr},         {"opus", Packetizer::Opus},     {"none", Packetizer::None},
  };
  for (const auto& n : kNames) {
    if (s == n.name) {
      out = n.p;
      return true;
    }
  }
  return false;
}

bool Fmtp::get(const char* key, std::string& value) const {
  size_t klen = std::strlen(key);
  size_t i = 0;
  while (i < s_.size()) {
    while (i < s_.size() && (s_[i] == ' ' || s_[i] == ';' || s_[i] == '\t')) i++;
    size_t start = i;
    while (i < s_.size() && s_[i] != ';') i++;
    size_t end = i;
    while (end > start && (s_[end - 1] == ' ' || s_[end - 1] == '\t')) end--;
    size_t eq = s_.find('=', start);
    if (eq == std::string::npos || eq > end) continue;
    size_t kend = eq;
    while (kend > start && s_[kend - 1] == ' ') kend--;
    if (kend - start == klen && strncasecmp(s_.c_str() + start, key, klen) == 0) {
      size_t vstart = eq + 1;
      while (vstart < end && s_[vstart] == ' ') vstart++;
      value = s_.substr(vstart, end - vstart);
      return true;
    }
  }
  return false;
}

int Fmtp::getInt(const char* key, int dflt) const {
  std::string v;
  if (!get(key, v) || v.empty()) return dflt;
  char* endp = nullptr;
  long n = std::strtol(v.c_str(), &endp, 10);
  if (endp == v.c_str()) return dflt;
  return static_cast<int>(n);
}

namespace {

// Splits "kind:name".
void splitBackend(const std::string& b, std::string& kind, std::string& name) {
  size_t colon = b.find(':');
  if (colon == std::string::npos) {
    kind = b;
    name.clear();
  } else {
    kind = b.substr(0, colon);
    name = b.substr(colon + 1);
  }
}

}  // namespace

std::unique_ptr<Decoder> makeDecoder(const CodecParams& p, std::string& err) {
  std::string kind, name;
  splitBackend(p.spec->decoder, kind, name);
  if (kind == "internal") return makeInternalDecoder(name, p, err);
  if (kind == "ffmpeg") return makeAvDecoder(name, p, err);
  if (kind == "bcg729") return makeG729Decoder(p, err);
  if (kind == "libopus") return makeOpusDecoder(p, err);
  err = "no decoder for " + p.spec->name;
  return nullptr;
}

std::unique_ptr<Encoder> makeEncoder(const CodecParams& p, std::string& err) {
  std::string kind, name;
  splitBackend(p.spec->encoder, kind, name);
  if (kind == "internal") return makeInternalEncoder(name, p, err);
  if (kind == "ffmpeg") return makeAvEncoder(name, p, err);
  if (kind == "bcg729") return makeG729Encoder(p, err);
  if (kind == "libopus") return makeOpusEncoder(p, err);
  err = "no encoder for " + p.spec->name;
  return nullptr;
}

bool backendAvailable(const std::string& backend, bool encode) {
  std::string kind, name;
  splitBackend(backend, kind, name);
  if (kind == "internal") {
    if (name == "alaw" || name == "ulaw" || name == "l16" || name == "cn") return true;
    // telephone-event is handled by the DTMF path, which is always built in.
    return name == "telephone-event";
  }
  if (kind == "ffmpeg") return avAvailable(name, encode);
  if (kind == "bcg729") return g729Available();
  if (kind == "libopus") return opusAvailable();
  return false;
}

}  // namespace codec
}  // namespace rtpe
