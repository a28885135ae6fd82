/* The flow table shared by the in-kernel forwarder (rtpengine_fwd.bpf.c) and
 * its loader in the native addon (native/kernel.cc). Plain C, fixed-size
 * fields, no padding left implicit: both sides read the same bytes.
 *
 * A flow is one local media socket whose RTP the kernel forwards. Its key is
 * the local address and UDP port a packet is addressed to; its rule says how
 * the packet is rewritten (new source = the proxy's socket towards the peer,
 * new destination = the peer) and from where it must come. Counters live in a
 * second map with the same key, so that rewriting a rule never resets them.
 * Addresses are 16 bytes: IPv6 as is, IPv4 in the first 4 bytes (the rest 0),
 * with the family alongside. Ports are in network byte order. */
#ifndef RTPE_KERNEL_FLOW_H
#define RTPE_KERNEL_FLOW_H

#include <linux/types.h>

#define RTPE_FLOW_AF_INET 4
#define RTPE_FLOW_AF_INET6 6

/* Most flows one table holds. */
#define RTPE_FLOW_MAX 65536

/* Rule flags. */
#define RTPE_FLOW_EXPECT_SOURCE 1 /* only packets from expect_addr/expect_port are taken */
#define RTPE_FLOW_LOCAL_DST 2     /* dst_addr is an address of this host */

struct rtpe_flow_key {
  __u8 addr[16];  /* local address the packet is sent to; all zero = any address */
  __u16 port;     /* local UDP port, network order */
  __u8 family;    /* RTPE_FLOW_AF_* */
  __u8 pad;
};

struct rtpe_flow_rule {
  __u8 src_addr[16];    /* the proxy's socket the packet leaves from */
  __u8 dst_addr[16];    /* the peer it goes to */
  __u8 expect_addr[16]; /* the peer it must come from (with RTPE_FLOW_EXPECT_SOURCE) */
  __u16 src_port, dst_port, expect_port;
  __u8 family;          /* of every address above, the same as the key's */
  __u8 tos;             /* DSCP/TOS byte (traffic class) to set, 0 = leave */
  __u8 flags;
  __u8 pad[3];
  /* Where to send the packet when the kernel's route lookup will not say
   * (IP forwarding off on the interface it came in on): the interface that
   * holds src_addr; 0 = unknown (the packet then stays in user space). */
  __u32 ifindex;
};

struct rtpe_flow_stats {
  __u64 packets;
  __u64 bytes;    /* UDP payload bytes, as the user-space counters count them */
  __u64 last_ns;  /* bpf_ktime_get_ns() of the last packet (CLOCK_MONOTONIC) */
};

#endif
