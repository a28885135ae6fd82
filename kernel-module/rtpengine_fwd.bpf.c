/* In-kernel RTP forwarding for rtpengine-ts: a tc classifier (clsact ingress,
 * direct action) that relays the RTP of streams the daemon has handed over.
 *
 * What it takes. A single UDP datagram over IPv4 or IPv6 (any IPv4 header
 * length, no fragments, no IPv6 extension headers, no GRO aggregate) whose destination
 * address and port are a flow of the table (flow.h; a flow for the any-address
 * matches every local address), which comes from the flow's expected source
 * when the rule names one, and which looks like RTP: version 2, not RTCP
 * multiplexed on the same port (second byte & 0x7f in 72..76). STUN (first
 * byte 0..3) and DTLS (20..63) fail the version test. Everything else,
 * including RTP from another source (learning, strict source and handover are
 * user space's business), is left untouched with TC_ACT_UNSPEC, so that other
 * filters on the hook still run and the packet reaches the socket as usual.
 *
 * What it does. Rewrites source and destination address and port (the family
 * stays the same: a change of family is user space's job), sets the TOS byte
 * or traffic class if the rule has one, and fixes the IPv4 header checksum and
 * the UDP checksum incrementally (the helpers handle CHECKSUM_PARTIAL packets
 * from lo and veth, and leave an IPv4 UDP checksum of 0 alone). Then a FIB
 * lookup on the new addresses decides: a local destination is delivered with
 * TC_ACT_OK (the rewritten packet goes up the stack to the peer's socket), a
 * remote one goes out of the FIB's interface with bpf_redirect_neigh. The FIB
 * answers only on interfaces with IP forwarding on; elsewhere the rule's
 * hints decide (the destination is local, or the interface holding the new
 * source address). When nothing can say (no route, no hint) the packet is
 * left untouched for user space, so nothing is lost. Counters of
 * packets, UDP payload bytes and the time of the last packet are kept per flow
 * in a second map with atomic adds.
 *
 * Build: clang -O2 -g -target bpf (kernel-module/build.sh). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RTPE_FLOW_MAX);
  __type(key, struct rtpe_flow_key);
  __type(value, struct rtpe_flow_rule);
} rtpe_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RTPE_FLOW_MAX);
  __type(key, struct rtpe_flow_key);
  __type(value, struct rtpe_flow_stats);
} rtpe_flow_stats SEC(".maps");

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* Finds the flow of (addr, port): the exact address first, then the
 * any-address. */
static __always_inline struct rtpe_flow_rule* find_flow(struct rtpe_flow_key* key) {
  struct rtpe_flow_rule* r = bpf_map_lookup_elem(&rtpe_flows, key);
  if (r) return r;
  __builtin_memset(key->addr, 0, sizeof(key->addr));
  return bpf_map_lookup_elem(&rtpe_flows, key);
}

/* RTP, not RTCP, judged by the first two bytes of the UDP payload. */
static __always_inline int is_rtp(struct __sk_buff* skb, __u32 off, __u32 len) {
  __u8 h[2];
  if (len < 12) return 0;
  if (bpf_skb_load_bytes(skb, off, h, 2) < 0) return 0;
  if ((h[0] >> 6) != 2) return 0;
  __u8 pt = h[1] & 0x7f;
  if (pt >= 72 && pt <= 76) return 0;
  return 1;
}

/* Whether two addresses of n bytes (4 or 16) are equal (no memcmp in BPF). */
static __always_inline int same_addr(const void* a, const __u8* b, int n) {
  const __u32* x = a;
  const __u32* y = (const __u32*)b;
  __u32 diff = x[0] ^ y[0];
  if (n == 16) diff |= (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]);
  return diff == 0;
}

static __always_inline void count(struct rtpe_flow_key* key, __u32 payload) {
  struct rtpe_flow_stats* s = bpf_map_lookup_elem(&rtpe_flow_stats, key);
  if (!s) return;
  __sync_fetch_and_add(&s->packets, 1);
  __sync_fetch_and_add(&s->bytes, payload);
  s->last_ns = bpf_ktime_get_ns();
}

/* Local delivery or redirect, after the rewrite: egress 0 delivers locally,
 * otherwise the packet leaves through that interface. */
static __always_inline int send_on(__u32 egress) {
  if (egress == 0) return TC_ACT_OK;
  return bpf_redirect_neigh(egress, 0, 0, 0);
}

/* Loads the UDP header at l4 of what must be an RTP packet; returns the UDP
 * payload length, or -1 if it is not RTP. */
static __always_inline int load_rtp_udp(struct __sk_buff* skb, __u32 l4, struct udphdr* udp) {
  if (bpf_skb_load_bytes(skb, l4, udp, sizeof(*udp)) < 0) return -1;
  __u32 ulen = bpf_ntohs(udp->len);
  if (ulen < sizeof(*udp)) return -1;
  __u32 payload = ulen - sizeof(*udp);
  if (!is_rtp(skb, l4 + sizeof(*udp), payload)) return -1;
  return payload;
}

/* The rule of a packet to daddr:udp->dest from saddr:udp->source (n address
 * bytes: 4 or 16), or NULL when there is none or the source is not the
 * expected one. key is filled for the counters. */
static __always_inline struct rtpe_flow_rule* match(struct rtpe_flow_key* key, const void* daddr, const void* saddr,
                                                    int n, const struct udphdr* udp, __u8 family) {
  __builtin_memcpy(key->addr, daddr, n);
  key->port = udp->dest;
  key->family = family;
  struct rtpe_flow_rule* r = find_flow(key);
  if (!r || r->family != family) return 0;
  if ((r->flags & RTPE_FLOW_EXPECT_SOURCE) && (udp->source != r->expect_port || !same_addr(saddr, r->expect_addr, n)))
    return 0;
  return r;
}

/* Rewrites the UDP ports (their share of the checksum included). */
static __always_inline void rewrite_ports(struct __sk_buff* skb, __u32 l4, const struct udphdr* udp, __u16 sport,
                                          __u16 dport) {
  __u32 csum_off = l4 + offsetof(struct udphdr, check);
  bpf_l4_csum_replace(skb, csum_off, udp->source, sport, BPF_F_MARK_MANGLED_0 | 2);
  bpf_l4_csum_replace(skb, csum_off, udp->dest, dport, BPF_F_MARK_MANGLED_0 | 2);
  bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, source), &sport, 2, 0);
  bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, dest), &dport, 2, 0);
}

/* Looks up where the rewritten packet (tot_len bytes from the IP header on)
 * goes: 0 for local delivery, an interface index to send it out of, or -1
 * when nobody can say (the packet then stays in user space). The FIB
 * decides; where it will not (IP forwarding off on the incoming interface),
 * the rule's own hints do. */
static __always_inline int route(struct __sk_buff* skb, struct bpf_fib_lookup* fib, const struct rtpe_flow_rule* r,
                                 __u16 tot_len) {
  fib->l4_protocol = IPPROTO_UDP;
  fib->sport = r->src_port;
  fib->dport = r->dst_port;
  fib->tot_len = tot_len;
  fib->ifindex = skb->ifindex;
  if (r->family == RTPE_FLOW_AF_INET) {
    fib->family = AF_INET;
    __builtin_memcpy(&fib->ipv4_src, r->src_addr, 4);
    __builtin_memcpy(&fib->ipv4_dst, r->dst_addr, 4);
  } else {
    fib->family = AF_INET6;
    __builtin_memcpy(fib->ipv6_src, r->src_addr, 16);
    __builtin_memcpy(fib->ipv6_dst, r->dst_addr, 16);
  }
  int ret = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
  if (ret == BPF_FIB_LKUP_RET_NOT_FWDED) return 0;
  if (ret == BPF_FIB_LKUP_RET_SUCCESS || ret == BPF_FIB_LKUP_RET_NO_NEIGH) return fib->ifindex;
  if (ret == BPF_FIB_LKUP_RET_FWD_DISABLED) {
    /* The rule says what user space knew when it wrote it. */
    if (r->flags & RTPE_FLOW_LOCAL_DST) return 0;
    if (r->ifindex) return r->ifindex;
  }
  return -1;
}

static __always_inline int handle_v4(struct __sk_buff* skb, __u32 l3) {
  struct iphdr ip;
  if (bpf_skb_load_bytes(skb, l3, &ip, sizeof(ip)) < 0) return TC_ACT_UNSPEC;
  if (ip.version != 4 || ip.protocol != IPPROTO_UDP || ip.ihl < 5) return TC_ACT_UNSPEC;
  if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET)) return TC_ACT_UNSPEC;
  __u32 l4 = l3 + ip.ihl * 4;
  struct udphdr udp;
  int payload = load_rtp_udp(skb, l4, &udp);
  if (payload < 0) return TC_ACT_UNSPEC;
  struct rtpe_flow_key key = {};
  struct rtpe_flow_rule* r = match(&key, &ip.daddr, &ip.saddr, 4, &udp, RTPE_FLOW_AF_INET);
  if (!r) return TC_ACT_UNSPEC;
  __u32 new_src, new_dst;
  __builtin_memcpy(&new_src, r->src_addr, 4);
  __builtin_memcpy(&new_dst, r->dst_addr, 4);
  __u16 new_sport = r->src_port, new_dport = r->dst_port;
  __u8 tos = r->tos;

  struct bpf_fib_lookup fib = {};
  int egress = route(skb, &fib, r, bpf_ntohs(ip.tot_len));
  if (egress < 0) return TC_ACT_UNSPEC;

  __u32 csum_off = l4 + offsetof(struct udphdr, check);
  __u32 ipcsum_off = l3 + offsetof(struct iphdr, check);
  /* An IPv4 UDP checksum of 0 means none: the helpers leave it so. */
  __u64 l4flags = BPF_F_MARK_MANGLED_0;
  bpf_l4_csum_replace(skb, csum_off, ip.saddr, new_src, l4flags | BPF_F_PSEUDO_HDR | 4);
  bpf_l4_csum_replace(skb, csum_off, ip.daddr, new_dst, l4flags | BPF_F_PSEUDO_HDR | 4);
  bpf_l3_csum_replace(skb, ipcsum_off, ip.saddr, new_src, 4);
  bpf_l3_csum_replace(skb, ipcsum_off, ip.daddr, new_dst, 4);
  bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, saddr), &new_src, 4, 0);
  bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, daddr), &new_dst, 4, 0);
  rewrite_ports(skb, l4, &udp, new_sport, new_dport);
  if (tos && tos != ip.tos) {
    /* The checksum covers 16-bit words: the one holding version/IHL and TOS. */
    __u16 old_word, new_word;
    __u8 w[2];
    if (bpf_skb_load_bytes(skb, l3, w, 2) == 0) {
      __builtin_memcpy(&old_word, w, 2);
      w[1] = tos;
      __builtin_memcpy(&new_word, w, 2);
      bpf_l3_csum_replace(skb, ipcsum_off, old_word, new_word, 2);
      bpf_skb_store_bytes(skb, l3 + 1, &tos, 1, 0);
    }
  }
  count(&key, payload);
  return send_on(egress);
}

static __always_inline int handle_v6(struct __sk_buff* skb, __u32 l3) {
  struct ipv6hdr ip;
  if (bpf_skb_load_bytes(skb, l3, &ip, sizeof(ip)) < 0) return TC_ACT_UNSPEC;
  if (ip.version != 6 || ip.nexthdr != IPPROTO_UDP) return TC_ACT_UNSPEC;
  __u32 l4 = l3 + sizeof(ip);
  struct udphdr udp;
  int payload = load_rtp_udp(skb, l4, &udp);
  if (payload < 0) return TC_ACT_UNSPEC;
  struct rtpe_flow_key key = {};
  struct rtpe_flow_rule* r = match(&key, &ip.daddr, &ip.saddr, 16, &udp, RTPE_FLOW_AF_INET6);
  if (!r) return TC_ACT_UNSPEC;
  struct in6_addr new_src, new_dst;
  __builtin_memcpy(&new_src, r->src_addr, 16);
  __builtin_memcpy(&new_dst, r->dst_addr, 16);
  __u16 new_sport = r->src_port, new_dport = r->dst_port;
  __u8 tos = r->tos;

  struct bpf_fib_lookup fib = {};
  int egress = route(skb, &fib, r, bpf_ntohs(ip.payload_len) + sizeof(ip));
  if (egress < 0) return TC_ACT_UNSPEC;

  /* IPv6 has no header checksum; the UDP one covers both addresses. */
  __u32 csum_off = l4 + offsetof(struct udphdr, check);
  __u64 l4flags = BPF_F_MARK_MANGLED_0;
  __u32* o = (__u32*)&ip.saddr;
  __u32* n = (__u32*)&new_src;
#pragma unroll
  for (int i = 0; i < 4; i++) bpf_l4_csum_replace(skb, csum_off, o[i], n[i], l4flags | BPF_F_PSEUDO_HDR | 4);
  o = (__u32*)&ip.daddr;
  n = (__u32*)&new_dst;
#pragma unroll
  for (int i = 0; i < 4; i++) bpf_l4_csum_replace(skb, csum_off, o[i], n[i], l4flags | BPF_F_PSEUDO_HDR | 4);
  bpf_skb_store_bytes(skb, l3 + offsetof(struct ipv6hdr, saddr), &new_src, 16, 0);
  bpf_skb_store_bytes(skb, l3 + offsetof(struct ipv6hdr, daddr), &new_dst, 16, 0);
  rewrite_ports(skb, l4, &udp, new_sport, new_dport);
  if (tos) {
    /* The traffic class straddles the first two bytes: 4 bits each. */
    __u8 w[2];
    if (bpf_skb_load_bytes(skb, l3, w, 2) == 0) {
      w[0] = (w[0] & 0xf0) | (tos >> 4);
      w[1] = (w[1] & 0x0f) | (__u8)(tos << 4);
      bpf_skb_store_bytes(skb, l3, w, 2, 0);
    }
  }
  count(&key, payload);
  return send_on(egress);
}

SEC("tc")
int rtpe_ingress(struct __sk_buff* skb) {
  /* At tc ingress the data starts at the Ethernet header (lo has one too). */
  __u32 l3 = sizeof(struct ethhdr);
  /* A GRO super-packet (UDP GRO forwarding) holds several datagrams under
   * one header: user space's business. */
  if (skb->gso_segs > 1) return TC_ACT_UNSPEC;
  if (skb->protocol == bpf_htons(ETH_P_IP)) return handle_v4(skb, l3);
  if (skb->protocol == bpf_htons(ETH_P_IPV6)) return handle_v6(skb, l3);
  return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
