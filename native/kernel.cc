// The loader of the in-kernel forwarder: see kernel.h.
#include "kernel.h"

#include <dlfcn.h>
#include <ifaddrs.h>
#include <errno.h>
#include <linux/magic.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace rtpe {

namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";
constexpr const char* kPinRoot = "/sys/fs/bpf/rtpengine-ts";
constexpr const char* kObjectName = "rtpengine_fwd.bpf.o";
constexpr const char* kProgName = "rtpe_ingress";
constexpr const char* kRulesMap = "rtpe_flows";
constexpr const char* kStatsMap = "rtpe_flow_stats";

// libbpf's own messages: the last warning is kept for the failure reason
// instead of going to stderr.
std::mutex printMu;
std::string lastLibbpfWarning;

int onLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[512];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  std::string line(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  std::lock_guard<std::mutex> lock(printMu);
  if (level == LIBBPF_WARN) lastLibbpfWarning = line;
  return 0;
}

std::string unavailable(const std::string& what) { return "kernel forwarding unavailable: " + what; }

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

// Mounts the bpf filesystem on /sys/fs/bpf unless it is there already.
std::string ensureBpffs() {
  struct statfs st;
  if (statfs(kBpffs, &st) == 0 && st.f_type == BPF_FS_MAGIC) return "";
  if (mkdir(kBpffs, 0700) != 0 && errno != EEXIST) return unavailable(std::string("mkdir ") + kBpffs + ": " + errnoText(errno));
  if (mount("bpf", kBpffs, "bpf", 0, nullptr) != 0) {
    return unavailable(std::string("mount -t bpf bpf ") + kBpffs + ": " + errnoText(errno));
  }
  return "";
}

void setTcHook(bpf_tc_hook& hook, int ifindex) {
  std::memset(&hook, 0, sizeof(hook));
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
}

void setTcOpts(bpf_tc_opts& opts, int table, int progFd) {
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  opts.handle = KernelPath::filterHandle(table);
  opts.priority = KernelPath::filterPriority(table);
  opts.prog_fd = progFd;
}

// Removes this table's filter from an interface's ingress, if there is one.
void detachFilter(int ifindex, int table) {
  bpf_tc_hook hook;
  bpf_tc_opts opts;
  setTcHook(hook, ifindex);
  setTcOpts(opts, table, 0);
  bpf_tc_detach(&hook, &opts);
}

// The link type (ARPHRD_*) of an interface, -1 if unknown.
int linkType(const std::string& ifname) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
  ::close(fd);
  return rc == 0 ? ifr.ifr_hwaddr.sa_family : -1;
}

}  // namespace

uint32_t KernelPath::filterHandle(int table) { return 0x52540000u | (static_cast<uint32_t>(table) & 0xffffu); }

// tc priorities are 16 bits; 0x4000 + table keeps clear of the low
// priorities administrators tend to use.
uint32_t KernelPath::filterPriority(int table) { return 0x4000u + (static_cast<uint32_t>(table) & 0x3fffu); }

std::string KernelPath::objectPath() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&KernelPath::objectPath), &info) == 0 || !info.dli_fname) return kObjectName;
  std::string so = info.dli_fname;
  size_t slash = so.rfind('/');
  return (slash == std::string::npos ? std::string(".") : so.substr(0, slash)) + "/" + kObjectName;
}

std::string KernelPath::pinDir() const { return std::string(kPinRoot) + "/table-" + std::to_string(table_); }

std::string KernelPath::open(int table, const std::vector<std::string>& ifnames) {
  if (isOpen()) return "";
  if (table < 0) return unavailable("no table (--table is negative)");
  if (ifnames.empty()) return unavailable("no interface to attach to");
  std::vector<int> ifindexes;
  for (const std::string& name : ifnames) {
    unsigned idx = if_nametoindex(name.c_str());
    if (idx == 0) return unavailable("interface '" + name + "': " + errnoText(errno));
    // The forwarder reads packets behind an Ethernet header (lo has one
    // too); an interface without one (tun, WireGuard, IP tunnels) would
    // never match, and redirecting needs the header as well.
    int type = linkType(name);
    if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK) {
      return unavailable("interface '" + name + "' has no Ethernet header (link type " + std::to_string(type) +
                         "); only Ethernet-like interfaces are supported");
    }
    ifindexes.push_back(static_cast<int>(idx));
  }
  std::string path = objectPath();
  if (access(path.c_str(), R_OK) != 0) return unavailable(path + ": " + errnoText(errno) + " (built without clang?)");
  libbpf_set_print(onLibbpfPrint);
  table_ = table;

  std::string err = ensureBpffs();
  if (!err.empty()) return err;
  // What a crashed run of this table left behind.
  unpin();
  for (int idx : ifindexes) detachFilter(idx, table);

  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj_ || libbpf_get_error(obj_)) {
    int e = obj_ ? static_cast<int>(libbpf_get_error(obj_)) : errno;
    obj_ = nullptr;
    return unavailable("cannot open " + path + ": " + errnoText(e));
  }
  int rc = bpf_object__load(obj_);
  if (rc != 0) {
    std::string why;
    {
      std::lock_guard<std::mutex> lock(printMu);
      why = lastLibbpfWarning;
    }
    close();
    std::string msg = "bpf(BPF_PROG_LOAD): " + errnoText(rc);
    if (rc != -EPERM && !why.empty()) msg += " (" + why + ")";
    return unavailable(msg);
  }
  bpf_map* rules = bpf_object__find_map_by_name(obj_, kRulesMap);
  bpf_map* stats = bpf_object__find_map_by_name(obj_, kStatsMap);
  bpf_program* prog = bpf_object__find_program_by_name(obj_, kProgName);
  if (!rules || !stats || !prog) {
    close();
    return unavailable(path + " lacks the maps or the program it should have");
  }
  if (mkdir(kPinRoot, 0700) != 0 && errno != EEXIST) {
    int e = errno;
    close();
    return unavailable(std::string("mkdir ") + kPinRoot + ": " + errnoText(e));
  }
  if (mkdir(pinDir().c_str(), 0700) != 0 && errno != EEXIST) {
    int e = errno;
    close();
    return unavailable("mkdir " + pinDir() + ": " + errnoText(e));
  }
  for (bpf_map* m : {rules, stats}) {
    std::string pin = pinDir() + "/" + bpf_map__name(m);
    int e = bpf_map__pin(m, pin.c_str());
    if (e != 0) {
      close();
      return unavailable("cannot pin " + pin + ": " + errnoText(e));
    }
  }
  rulesFd_ = bpf_map__fd(rules);
  statsFd_ = bpf_map__fd(stats);
  int progFd = bpf_program__fd(prog);
  for (size_t i = 0; i < ifindexes.size(); i++) {
    bpf_tc_hook hook;
    setTcHook(hook, ifindexes[i]);
    int e = bpf_tc_hook_create(&hook);
    if (e != 0 && e != -EEXIST) {
      close();
      return unavailable("cannot add a clsact qdisc to " + ifnames[i] + ": " + errnoText(e));
    }
    bpf_tc_opts opts;
    setTcOpts(opts, table, progFd);
    e = bpf_tc_attach(&hook, &opts);
    if (e != 0) {
      close();
      return unavailable("cannot attach the classifier to " + ifnames[i] + ": " + errnoText(e));
    }
    attached_.push_back(ifindexes[i]);
  }
  return "";
}

void KernelPath::detachAll() {
  for (int idx : attached_) detachFilter(idx, table_);
  attached_.clear();
}

void KernelPath::unpin() {
  if (table_ < 0) return;
  std::string dir = pinDir();
  unlink((dir + "/" + kRulesMap).c_str());
  unlink((dir + "/" + kStatsMap).c_str());
  rmdir(dir.c_str());
  // Only when no other table is left (fails with ENOTEMPTY otherwise).
  rmdir(kPinRoot);
}

void KernelPath::close() {
  if (table_ < 0 && !obj_) return;
  detachAll();
  unpin();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  rulesFd_ = statsFd_ = -1;
  table_ = -1;
}

int KernelPath::put(const FlowKey& key, const FlowRule& rule) {
  if (!isOpen()) return EBADF;
  FlowStats zero{};
  // Counters first, so that the program never finds a rule without them.
  if (bpf_map_update_elem(statsFd_, &key, &zero, BPF_NOEXIST) != 0 && errno != EEXIST) return errno;
  if (bpf_map_update_elem(rulesFd_, &key, &rule, BPF_ANY) != 0) return errno;
  return 0;
}

int KernelPath::remove(const FlowKey& key, FlowStats& last) {
  std::memset(&last, 0, sizeof(last));
  if (!isOpen()) return EBADF;
  int rc = 0;
  if (bpf_map_delete_elem(rulesFd_, &key) != 0 && errno != ENOENT) rc = errno;
  // A packet the program is handling right now may still count after this
  // read; such a packet is lost to the counters, never to the peer.
  bpf_map_lookup_elem(statsFd_, &key, &last);
  bpf_map_delete_elem(statsFd_, &key);
  return rc;
}

bool KernelPath::read(const FlowKey& key, FlowStats& out) const {
  if (!isOpen()) return false;
  return bpf_map_lookup_elem(statsFd_, &key, &out) == 0;
}

void KernelPath::hints(const SockAddr& src, const SockAddr& dst, uint8_t& flags, uint32_t& ifindex) {
  ifindex = 0;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  std::lock_guard<std::mutex> lock(addrMu_);
  if (addrsReadMs_ < 0 || now - addrsReadMs_ > 1000) {
    addrsReadMs_ = now;
    addrs_.clear();
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) == 0) {
      for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
        LocalAddress la;
        std::memcpy(&la.addr.u, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
        la.addr.setPort(0);
        if (la.addr.af() == AF_INET6) la.addr.u.v6.sin6_scope_id = 0;
        la.ifindex = if_nametoindex(i->ifa_name);
        addrs_.push_back(la);
      }
      freeifaddrs(list);
    }
  }
  for (const LocalAddress& la : addrs_) {
    if (la.addr.sameHost(dst)) flags |= RTPE_FLOW_LOCAL_DST;
    if (!ifindex && la.addr.sameHost(src)) ifindex = la.ifindex;
  }
  // The loopback ranges are local whether or not lo lists them all.
  if (dst.af() == AF_INET && (ntohl(dst.u.v4.sin_addr.s_addr) >> 24) == 127) flags |= RTPE_FLOW_LOCAL_DST;
  if (dst.af() == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&dst.u.v6.sin6_addr)) flags |= RTPE_FLOW_LOCAL_DST;
}

void flowAddress(const SockAddr& a, uint8_t addr[16], uint16_t& portNet, uint8_t& family) {
  std::memset(addr, 0, 16);
  if (a.af() == AF_INET6) {
    std::memcpy(addr, &a.u.v6.sin6_addr, 16);
    portNet = a.u.v6.sin6_port;
    family = RTPE_FLOW_AF_INET6;
  } else {
    std::memcpy(addr, &a.u.v4.sin_addr, 4);
    portNet = a.u.v4.sin_port;
    family = RTPE_FLOW_AF_INET;
  }
}

}  // namespace rtpe
