// UDP sockets and socket addresses of the media engine.
//
// A SockAddr is a plain value (no heap) that holds an IPv4 or IPv6 address and
// port; it is what the packet path compares and copies. A Socket is one bound
// UDP file descriptor belonging to a stream; the engine thread finds it through
// the epoll event's data pointer.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace rtpe {

class Stream;

// An IPv4 or IPv6 address with a port, or nothing (family AF_UNSPEC).
struct SockAddr {
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u;

  SockAddr() { clear(); }
  void clear();

  bool valid() const { return u.sa.sa_family == AF_INET || u.sa.sa_family == AF_INET6; }
  int af() const { return u.sa.sa_family; }
  // The family as the JavaScript side spells it: 4, 6, or 0 when empty.
  int family() const;
  uint16_t port() const;
  void setPort(uint16_t port);
  socklen_t len() const;
  // The largest size recvmmsg may write into this object.
  static constexpr socklen_t capacity() { return sizeof(sockaddr_in6); }

  // Same family, address and port. Two empty addresses are equal.
  bool operator==(const SockAddr& o) const;
  bool operator!=(const SockAddr& o) const { return !(*this == o); }
  // Same family and address, port ignored.
  bool sameHost(const SockAddr& o) const;

  // Parses a textual address for family 4 or 6. Returns false if it does not parse.
  static bool parse(int family, const std::string& address, uint16_t port, SockAddr& out);
  // The address without the port ("127.0.0.1", "::1").
  std::string host() const;
};

// One bound UDP socket of a stream. The fd is owned by the stream and closed
// by Stream::retire(); index is the position in the stream's socket list.
struct Socket {
  int fd = -1;
  Stream* stream = nullptr;
  uint8_t index = 0;
  SockAddr local;
  // Packet-path state, engine thread only (see Relay): the packets queued to
  // go out of this socket (slot indices, 0xffff = none), how many packets to
  // ask for per receive, and the loop iteration it was last read in.
  uint16_t sendHead = 0xffff;
  uint16_t sendTail = 0xffff;
  uint8_t burst = 1;
  uint32_t lastRound = 0;
};

// Opens a non-blocking UDP socket bound to addr (port 0 lets the kernel choose)
// and returns its fd, or -errno. IPv6 sockets are IPv6-only so that the same
// port can be bound on an IPv4 address as well. SO_REUSEADDR is deliberately not
// set: a port already bound elsewhere must fail with EADDRINUSE.
int openUdpSocket(const SockAddr& addr);

// Sets the TOS byte (IPv4) or traffic class (IPv6). Returns 0 or an errno value.
int setSocketTos(int fd, int af, int tos);

// The port the kernel bound fd to, or 0 on error.
uint16_t boundPort(int fd);

// The stable name of an errno value ("EADDRINUSE"), "E<n>" when unknown.
std::string errnoCode(int err);

}  // namespace rtpe
