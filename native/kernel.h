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
// The forwarder asks the kernel's routing table where a rewritten packet
// goes. On an interface with IP forwarding off the table will not answer;
// each rule therefore carries hints written from user space's knowledge
// (hints()): a destination that is a local address is delivered locally,
// anything else leaves through the interface that holds the new source
// address. IP forwarding is thus not needed; with it on, the routing table
// chooses the egress (multi-homed hosts, policy routing).
//
// Only Ethernet-like interfaces (Ethernet, veth, bridges, bonds, VLANs, lo)
// are accepted: the program expects an Ethernet header in front of the IP
// one.
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
#include <mutex>
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
  // The hints a rule carries for when the forwarder's route lookup will not
  // answer (IP forwarding off on the incoming interface): whether dst is an
  // address of this host (RTPE_FLOW_LOCAL_DST in flags), else the index of
  // the interface holding src (0 if none does). From the host's address
  // list, read again when it is over a second old. Runs on any thread.
  void hints(const SockAddr& src, const SockAddr& dst, uint8_t& flags, uint32_t& ifindex);

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

  // The host's addresses (port 0) and their interfaces, for hints().
  struct LocalAddress {
    SockAddr addr;
    uint32_t ifindex;
  };
  std::mutex addrMu_;
  std::vector<LocalAddress> addrs_;
  int64_t addrsReadMs_ = -1;
};

// The 16-byte address, network-order port and RTPE_FLOW_AF_* family of a
// socket address, as flow.h lays them out.
void flowAddress(const SockAddr& a, uint8_t addr[16], uint16_t& portNet, uint8_t& family);

}  // namespace rtpe
