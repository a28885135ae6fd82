// UDP sockets and socket addresses of the media engine.
#include "socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtpe {

void SockAddr::clear() {
  std::memset(&u, 0, sizeof(u));
  u.sa.sa_family = AF_UNSPEC;
}

int SockAddr::family() const {
  if (u.sa.sa_family == AF_INET) return 4;
  if (u.sa.sa_family == AF_INET6) return 6;
  return 0;
}

uint16_t SockAddr::port() const {
  if (u.sa.sa_family == AF_INET) return ntohs(u.v4.sin_port);
  if (u.sa.sa_family == AF_INET6) return ntohs(u.v6.sin6_port);
  return 0;
}

void SockAddr::setPort(uint16_t port) {
  if (u.sa.sa_family == AF_INET) u.v4.sin_port = htons(port);
  else if (u.sa.sa_family == AF_INET6) u.v6.sin6_port = htons(port);
}

socklen_t SockAddr::len() const {
  if (u.sa.sa_family == AF_INET) return sizeof(sockaddr_in);
  if (u.sa.sa_family == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

bool SockAddr::sameHost(const SockAddr& o) const {
  if (u.sa.sa_family != o.u.sa.sa_family) return false;
  if (u.sa.sa_family == AF_INET) return u.v4.sin_addr.s_addr == o.u.v4.sin_addr.s_addr;
  if (u.sa.sa_family == AF_INET6) {
    return std::memcmp(&u.v6.sin6_addr, &o.u.v6.sin6_addr, sizeof(in6_addr)) == 0 &&
           u.v6.sin6_scope_id == o.u.v6.sin6_scope_id;
  }
  return true;
}

bool SockAddr::operator==(const SockAddr& o) const {
  return sameHost(o) && port() == o.port();
}

bool SockAddr::parse(int family, const std::string& address, uint16_t port, SockAddr& out) {
  out.clear();
  if (family == 4) {
    if (inet_pton(AF_INET, address.c_str(), &out.u.v4.sin_addr) != 1) return false;
    out.u.v4.sin_family = AF_INET;
    out.u.v4.sin_port = htons(port);
    return true;
  }
  if (family == 6) {
    // A scope ("fe80::1%eth0") is not supported yet; it fails to parse.
    if (inet_pton(AF_INET6, address.c_str(), &out.u.v6.sin6_addr) != 1) return false;
    out.u.v6.sin6_family = AF_INET6;
    out.u.v6.sin6_port = htons(port);
    return true;
  }
  return false;
}

std::string SockAddr::host() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (u.sa.sa_family == AF_INET) inet_ntop(AF_INET, &u.v4.sin_addr, buf, sizeof(buf));
  else if (u.sa.sa_family == AF_INET6) inet_ntop(AF_INET6, &u.v6.sin6_addr, buf, sizeof(buf));
  return buf;
}

int openUdpSocket(const SockAddr& addr) {
  if (!addr.valid()) return -EINVAL;
  int fd = socket(addr.af(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -errno;
  if (addr.af() == AF_INET6) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
      int err = errno;
      close(fd);
      return -err;
    }
  }
  if (bind(fd, &addr.u.sa, addr.len()) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int setSocketTos(int fd, int af, int tos) {
  int r;
  if (af == AF_INET) r = setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
  else r = setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
  return r == 0 ? 0 : errno;
}

uint16_t boundPort(int fd) {
  SockAddr a;
  socklen_t len = SockAddr::capacity();
  if (getsockname(fd, &a.u.sa, &len) != 0) return 0;
  return a.port();
}

std::string errnoCode(int err) {
  const char* name = strerrorname_np(err);
  if (name) return name;
  return "E" + std::to_string(err);
}

}  // namespace rtpe
