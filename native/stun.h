// STUN on media ports (RFC 5389, RFC 8445): the daemon answers ICE
// connectivity checks as an ice-lite agent.
//
// A binding request is accepted when its USERNAME is "<our ufrag>:<peer ufrag>",
// its MESSAGE-INTEGRITY is the HMAC-SHA1 of the message under our ICE password
// and its FINGERPRINT is right; the answer is a binding success response
// (SOFTWARE, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT) sent from the
// socket the request arrived on. As the reference does, a request without
// MESSAGE-INTEGRITY or USERNAME gets 400 Bad Request, wrong credentials get
// 401 Unauthorized, an unknown comprehension-required attribute gets 420, and
// a message without a (valid) FINGERPRINT is not answered at all.
//
// Everything here runs on an engine thread, never blocks and never allocates:
// requests are parsed in place and answers are built in a stack buffer.
#pragma once

#include <cstdint>
#include <string>

#include "socket.h"

namespace rtpe {

// The ICE credentials this daemon advertised towards a stream's peer; empty
// when ICE is not in use there.
struct IceCredentials {
  std::string ufrag;
  std::string pwd;
  bool empty() const { return ufrag.empty() || pwd.empty(); }
  bool operator==(const IceCredentials& o) const { return ufrag == o.ufrag && pwd == o.pwd; }
  bool operator!=(const IceCredentials& o) const { return !(*this == o); }
};

namespace stun {

// What became of a STUN message.
enum class Outcome : uint8_t {
  Ignored,     // not answered (no or bad FINGERPRINT, unparsable, not a binding): count and drop
  Rejected,    // answered with an error response (400, 401, 420): count and drop
  Consumed,    // an indication or a response, which an ice-lite agent has no use for
  Success,     // a valid binding request, answered with a success response
};

// True when the datagram has the shape of a STUN message: the two top bits of
// the first byte clear, at least a header, and the magic cookie in place.
bool looksLikeStun(const uint8_t* data, uint32_t len);

// Checks a STUN message received on socket fd from src against cred and
// answers it from fd. On Success, useCandidate tells whether the request
// carried USE-CANDIDATE (the peer nominated this pair). software is the
// SOFTWARE attribute of the answers (may be empty).
Outcome handle(const uint8_t* data, uint32_t len, int fd, const SockAddr& src, const IceCredentials& cred,
               const std::string& software, bool& useCandidate);

// The SOFTWARE attribute of every answer (--software-id). Set once by the
// engine before its threads start; read by them afterwards.
void setSoftware(const std::string& name);
const std::string& software();

// RFC 5389 FINGERPRINT: CRC-32 (IEEE) of the bytes, XORed with 0x5354554e.
uint32_t fingerprint(const uint8_t* data, size_t len);

// HMAC-SHA1 of the iovec-like parts under key; out receives 20 bytes. Returns
// false if the crypto library failed.
bool hmacSha1(const std::string& key, const uint8_t* const* parts, const size_t* lens, int n, uint8_t out[20]);

}  // namespace stun
}  // namespace rtpe
