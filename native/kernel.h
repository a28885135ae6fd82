// The loader of the in-kernel forwarder (kernel-module/rtpengine_fwd.bpf.c)
// and the access to its flow table.
//
// open() loads the BPF object that the build put beside the addon, pins its
// two maps (rules and counters) under /sys/fs/bpf/rtpengine-ts/table-N/ (the
// bpf filesystem is mounted there if it is not yet), makes sure each named
// interface has a clsact qdisc, and attaches the classifier to its ingress
// with a filter handle and priority derived from the table, so that daemons
// with different tables share an interface without touching each other's
// filters. What a crashed run of the same table left behind (pins, filters)
// is removed first. A failure at any step undoes the steps before it and
// returns the reason; nothing stays attached.
//
// The forwarder needs IP forwarding on the interfaces (its FIB lookup refuses
// to answer otherwise): open() fails, naming the setting, when neither IPv4
// nor IPv6 forwarding is on for all of them, and a family with it off is
// never handed to the kernel (forwards()).
//
// close() detaches only this table's filters and removes its pins. The clsact
// qdiscs stay: other filters (another table's, another program's) may hang off
// them, and an empty one costs nothing.
//
// The map calls (put, remove, read) are single bpf() system calls on the map
// descriptors; they may be made from any thread at once (the kernel
// serialises them per element). They belong to the control path and to the
// engine threads between packet batches, never to the per-packet path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "socket.h"

extern "C" {
#include "../kernel-module/flow.h"
}

struct bpf_object;

namespace rtpe {

using FlowKey = rtpe_flow_key;
using FlowRule = rtpe_flow_rule;
using FlowStats = rtpe_flow_stats;

class KernelPath {
 public:
  KernelPath() = default;
  ~KernelPath() { close(); }
  KernelPath(const KernelPath&) = delete;
  KernelPath& operator=(const KernelPath&) = delete;

  // Loads and attaches; returns an empty string on success, else why not
  // ("kernel forwarding unavailable: ..."). table must be >= 0. Runs on the
  // JavaScript thread; blocks for the few system calls it makes.
  std::string open(int table, const std::vector<std::string>& ifnames);
  // Detaches and unpins. Idempotent.
  void close();
  bool isOpen() const { return rulesFd_ >= 0; }
  // Whether the kernel can forward a family: the forwarder's route lookup
  // answers only on interfaces with IP forwarding on (net.ipv4.conf.IF.forwarding,
  // net.ipv6.conf.IF.forwarding), so a family with forwarding off on any of
  // the interfaces stays in user space. Read once, by open(); af is AF_INET
  // or AF_INET6.
  bool forwards(int af) const { return af == AF_INET6 ? v6_ : v4_; }

  // Writes a flow's rule; the flow's counters are created (at zero) if it
  // had none, and kept otherwise. Returns 0 or an errno value.
  int put(const FlowKey& key, const FlowRule& rule);
  // Deletes a flow's rule, then reads and deletes its counters into last
  // (zero if it had none). Returns 0 or an errno value.
  int remove(const FlowKey& key, FlowStats& last);
  // Reads a flow's counters; false if it has none.
  bool read(const FlowKey& key, FlowStats& out) const;

  // Where open() looks for the BPF object: beside the addon's .node file.
  static std::string objectPath();
  // The filter handle and priority of a table.
  static uint32_t filterHandle(int table);
  static uint32_t filterPriority(int table);

 private:
  std::string pinDir() const;
  void detachAll();
  void unpin();

  int table_ = -1;
  bpf_object* obj_ = nullptr;
  int rulesFd_ = -1;
  int statsFd_ = -1;
  std::vector<int> attached_;  // ifindexes with our filter
  bool v4_ = false, v6_ = false;
};

// The 16-byte address, network-order port and RTPE_FLOW_AF_* family of a
// socket address, as flow.h lays them out.
void flowAddress(const SockAddr& a, uint8_t addr[16], uint16_t& portNet, uint8_t& family);

}  // namespace rtpe
