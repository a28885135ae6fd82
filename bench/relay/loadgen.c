/*
 * RTP load generator for the relay benchmark (bench/relay.ts drives it).
 *
 * It plays both ends of N calls through a media proxy on 127.0.0.1: side A of
 * every call sends to the proxy port the answer gave it, side B to the port the
 * offer gave it, 50 packets/s each way by default. Packets are 172-byte G.711
 * RTP packets (12-byte header, 160 bytes of payload) whose payload carries a
 * magic number, the call index, the direction, a "measured" flag and the send
 * time. Received packets are matched by that payload: loss, reordering and the
 * one-way latency through the proxy (send time to the kernel's receive
 * timestamp, SO_TIMESTAMPNS) are counted per run.
 *
 * Calls share sockets: K sockets per side, call i uses socket i % K on each
 * side (the proxy learns the same source for several calls, which is allowed).
 * Sends are spread over the packet interval in 1 ms ticks (call i sends in tick
 * i mod interval) and go out with sendmmsg in small batches, each batch stamped
 * just before its system call. Each tick also reads what came back (recvmmsg),
 * without ever sleeping on the receive sockets, so that the daemon's sends do
 * not pay for waking this process (see run()). Nothing is allocated per
 * packet.
 *
 * Replay mode (bench/transcode.ts): once "frame" lines have loaded a payload
 * set for each direction, packets carry those payloads instead (frame k of the
 * set in the packet with sequence number k modulo the set's size, the payload
 * type and timestamp step of the set), for a proxy that transcodes them. What
 * comes back cannot carry anything of ours, so a received packet is matched by
 * its source: the proxy port of one call and side (the proxy sends to side A
 * from the port A sends to). Loss is counted per direction by RTP sequence
 * number: the packets sent in the measured window against the received packets
 * that carry one of their sequence numbers, which holds for a proxy that keeps
 * the sender's numbering when it transcodes packet for packet (rtpengine does,
 * and so does ours); received sequence numbers that were never sent are
 * counted (seqAhead) so that a proxy that renumbers shows. After the window the
 * calls go on sending for 100 ms, not counted, so that packets a transcoder
 * holds back (a resampler's delay kept as a whole packet) come out, and what
 * arrives is read for another 500 ms. The whole run is counted too. There is
 * no latency figure. A packet from a known port with another payload
 * type than the receiving side negotiated counts as wrongPt; RTCP and packets
 * from unknown ports count as foreign.
 *
 * Protocol on stdin/stdout, one line each:
 *   (start-up)                 -> "ports A <p,p,...> B <p,p,...>"
 *   call <dstA> <dstB>         add a call (dst ports on 127.0.0.1); no reply
 *   frame <dir> <pt> <ts-step> <hex>
 *                              append a payload to the replay set of direction
 *                              dir (0: sent by side A, 1: by side B), sent with
 *                              payload type pt, timestamps advancing by ts-step
 *                              per packet; no reply
 *   run <n> <warmup-ms> <measure-ms> <pid> <rate> [<pid>,<pid>...]
 *                              send for the first n calls, measure the window
 *                              after the warm-up, read the CPU time of process
 *                              pid (0: none) at both ends of the window, and
 *                              that of the optional further pids (the
 *                              ksoftirqd threads of the daemon's CPUs)
 *                              -> "result {json}"
 *   quit
 *
 * Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 100000
#define MAX_SOCKS 64
#define PKT_LEN 172
#define MAX_PKT 1500 /* replay mode: header + the largest payload */
#define MAX_FRAMES 250
#define SEND_BATCH 8
#define RECV_BATCH 64
#define HIST_US 500000 /* latency histogram: 1 us buckets up to 0.5 s */
#define MAGIC 0x52545042u /* "RTPB" */
#define TAIL_TICKS 100 /* replay mode: uncounted sending after the window */

/* Payload layout after the 12-byte RTP header. */
struct payload {
  uint32_t magic;
  uint32_t call;
  uint8_t dir; /* 0: A->B, 1: B->A */
  uint8_t measured;
  uint16_t pad;
  int64_t sentNs; /* CLOCK_REALTIME */
};

struct call {
  uint16_t dst[2];     /* proxy port side A (dir 0) and side B (dir 1) send to */
  uint16_t seq[2];     /* next sequence number to send per direction */
  uint16_t lastRx[2];  /* last sequence number received per direction */
  uint8_t seen[2];
  uint16_t winFirst[2]; /* replay mode: first sequence number sent in the window */
  uint16_t winEnd[2];   /* and the one after the last (next to send while measuring) */
};

static struct call calls[MAX_CALLS];
static unsigned ncalls;

/* Replay mode: the payload set of each direction, and which call and
 * direction a proxy port delivers (call * 2 + dir + 1; 0: none). */
static uint8_t frames[2][MAX_FRAMES][MAX_PKT - 12];
static uint16_t frameLen[2][MAX_FRAMES];
static unsigned nframes[2];
static uint8_t framePt[2];
static uint32_t frameTsStep[2];
static int replay;
static uint32_t fromPort[65536];
static int nsocks = 4;
static int sockA[MAX_SOCKS], sockB[MAX_SOCKS];
static uint16_t portA[MAX_SOCKS], portB[MAX_SOCKS];

/* Send batches, one per socket of each side. */
struct batch {
  int fd;
  int dir; /* 0: a socket of side A, 1: of side B */
  unsigned n;
  uint8_t measured[SEND_BATCH]; /* replay mode: sent while measuring */
  struct mmsghdr msg[SEND_BATCH];
  struct iovec iov[SEND_BATCH];
  struct sockaddr_in dst[SEND_BATCH];
  uint8_t pkt[SEND_BATCH][MAX_PKT];
};
static struct batch batches[2 * MAX_SOCKS];

/* Receive buffers. */
static struct mmsghdr rmsg[RECV_BATCH];
static struct iovec riov[RECV_BATCH];
static uint8_t rbuf[RECV_BATCH][2048];
static char rctl[RECV_BATCH][CMSG_SPACE(sizeof(struct timespec))];
static struct sockaddr_in rname[RECV_BATCH];

/* Run statistics. */
static uint32_t hist[HIST_US + 1];
static uint64_t sentMeasured, recvMeasured, recvTotal, reordered, sendErrors, foreign, negative;
/* Per direction (0: A->B), measured window and whole run; replay mode only. */
static uint64_t sentDir[2], recvDir[2], sentAll[2], recvAll[2], wrongPt, seqAhead;
static int measuring;
static int counting; /* replay mode: from the window's start to the end of draining */

static int64_t nowNs(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int openSock(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int big = 32 << 20, one = 1;
  /* Force past rmem_max when allowed (root); otherwise take what is granted. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) die("bind");
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void flush(struct batch *b) {
  if (b->n == 0) return;
  int64_t t = nowNs(CLOCK_REALTIME);
  for (unsigned i = 0; i < b->n && !replay; i++) {
    struct payload *p = (struct payload *)(b->pkt[i] + 12);
    p->sentNs = t;
  }
  unsigned done = 0;
  while (done < b->n) {
    int r = sendmmsg(b->fd, b->msg + done, b->n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      sendErrors += b->n - done;
      /* The packets not sent are not counted as sent. */
      for (unsigned i = done; i < b->n; i++) {
        if (replay) {
          sentAll[b->dir]--;
          if (b->measured[i]) {
            sentDir[b->dir]--;
            sentMeasured--;
          }
          continue;
        }
        struct payload *p = (struct payload *)(b->pkt[i] + 12);
        if (p->measured) sentMeasured--;
      }
      break;
    }
    done += (unsigned)r;
  }
  b->n = 0;
}

static void queue(unsigned ci, int dir) {
  struct call *c = &calls[ci];
  int s = ci % nsocks;
  struct batch *b = &batches[dir * nsocks + s];
  unsigned k = b->n;
  uint8_t *pkt = b->pkt[k];
  uint16_t seq = c->seq[dir]++;
  pkt[0] = 0x80;
  pkt[1] = replay ? framePt[dir] : 0; /* PCMU when not replaying */
  pkt[2] = seq >> 8;
  pkt[3] = seq & 0xff;
  uint32_t ts = (uint32_t)seq * (replay ? frameTsStep[dir] : 160);
  pkt[4] = ts >> 24;
  pkt[5] = ts >> 16;
  pkt[6] = ts >> 8;
  pkt[7] = ts;
  uint32_t ssrc = ci * 2 + dir + 1;
  memcpy(pkt + 8, &ssrc, 4);
  b->dst[k].sin_port = htons(c->dst[dir]);
  if (replay) {
    unsigned f = seq % nframes[dir];
    memcpy(pkt + 12, frames[dir][f], frameLen[dir][f]);
    b->iov[k].iov_len = 12 + frameLen[dir][f];
    b->measured[k] = (uint8_t)measuring;
    sentAll[dir]++;
    if (measuring) {
      sentDir[dir]++;
      sentMeasured++;
    }
    b->n = k + 1;
    if (b->n == SEND_BATCH) flush(b);
    return;
  }
  struct payload *p = (struct payload *)(pkt + 12);
  p->magic = MAGIC;
  p->call = ci;
  p->dir = (uint8_t)dir;
  p->measured = (uint8_t)measuring;
  if (measuring) sentMeasured++;
  b->n = k + 1;
  if (b->n == SEND_BATCH) flush(b);
}

/* Replay mode: a packet is known by the proxy port it came from. */
static void onReplayPacket(const uint8_t *d, unsigned len, uint16_t srcPort) {
  uint32_t id = fromPort[srcPort];
  /* RTCP (packet types 200-204 in the second byte) is not media. */
  if (id == 0 || len < 12 || (d[0] & 0xc0) != 0x80 || (d[1] >= 200 && d[1] <= 204)) {
    foreign++;
    return;
  }
  unsigned ci = (id - 1) / 2;
  int dir = (int)((id - 1) & 1);
  struct call *c = &calls[ci];
  /* Direction dir arrives at the other side, in that side's payload type. */
  if ((d[1] & 0x7f) != framePt[!dir]) wrongPt++;
  uint16_t seq = (uint16_t)((d[2] << 8) | d[3]);
  if (c->seen[dir] && (int16_t)(seq - c->lastRx[dir]) <= 0) reordered++;
  else c->lastRx[dir] = seq;
  c->seen[dir] = 1;
  recvAll[dir]++;
  /* Sequence numbers run 0, 1, ... per call and direction: a later one than
   * the last sent means the proxy renumbers. */
  if ((uint16_t)(seq - c->seq[dir]) < 0x8000) seqAhead++;
  if (!counting) return;
  uint16_t end = measuring ? c->seq[dir] : c->winEnd[dir];
  if ((uint16_t)(seq - c->winFirst[dir]) < (uint16_t)(end - c->winFirst[dir])) {
    recvDir[dir]++;
    recvMeasured++;
  }
}

static void onPacket(const uint8_t *d, unsigned len, int64_t rxNs) {
  recvTotal++;
  if (len < 12 + sizeof(struct payload)) {
    foreign++;
    return;
  }
  struct payload p;
  memcpy(&p, d + 12, sizeof(p));
  if (p.magic != MAGIC || p.call >= ncalls || p.dir > 1) {
    foreign++;
    return;
  }
  struct call *c = &calls[p.call];
  uint16_t seq = (uint16_t)((d[2] << 8) | d[3]);
  if (c->seen[p.dir] && (int16_t)(seq - c->lastRx[p.dir]) <= 0) reordered++;
  else c->lastRx[p.dir] = seq;
  c->seen[p.dir] = 1;
  if (!p.measured) return;
  recvMeasured++;
  int64_t us = (rxNs - p.sentNs) / 1000;
  if (us < 0) {
    negative++;
    us = 0;
  }
  hist[us > HIST_US ? HIST_US : us]++;
}

/* Reads everything queued on fd. */
static void drain(int fd) {
  for (;;) {
    for (int i = 0; i < RECV_BATCH; i++) {
      rmsg[i].msg_hdr.msg_controllen = sizeof(rctl[i]);
      rmsg[i].msg_hdr.msg_namelen = sizeof(rname[i]);
      rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(fd, rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    if (replay) {
      for (int i = 0; i < n; i++) {
        recvTotal++;
        onReplayPacket(rbuf[i], rmsg[i].msg_len, ntohs(rname[i].sin_port));
      }
      if (n < RECV_BATCH) return;
      continue;
    }
    int64_t fallback = 0;
    for (int i = 0; i < n; i++) {
      int64_t rx = 0;
      struct msghdr *h = &rmsg[i].msg_hdr;
      for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
          struct timespec ts;
          memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
          rx = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
      }
      if (!rx) {
        if (!fallback) fallback = nowNs(CLOCK_REALTIME);
        rx = fallback;
      }
      onPacket(rbuf[i], rmsg[i].msg_len, rx);
    }
    if (n < RECV_BATCH) return;
  }
}

/* utime + stime of a process in clock ticks, -1 when unknown. */
static long long procTicks(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[2048];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  /* Fields from 3 (state) on; utime and stime are fields 14 and 15. */
  unsigned long long ut = 0, st = 0;
  int field = 3;
  char *save = NULL;
  for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
    if (field == 14) ut = strtoull(tok, NULL, 10);
    if (field == 15) {
      st = strtoull(tok, NULL, 10);
      break;
    }
  }
  return (long long)(ut + st);
}

/* Time on CPU of every thread of a process, in ns, from the scheduler's own
 * accounting (/proc/PID/task/TID/schedstat, first field): exact, unlike the
 * tick-sampled utime/stime, which a load paced by a 1 ms timer can alias
 * with. -1 when unknown. */
static long long procRunNs(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return -1;
  long long sum = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char p2[320];
    snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, e->d_name);
    FILE *f = fopen(p2, "r");
    if (!f) continue;
    long long ns = 0;
    if (fscanf(f, "%lld", &ns) == 1) sum += ns;
    fclose(f);
  }
  closedir(d);
  return sum;
}

/* Sum of procRunNs over a list of pids. */
static long long listRunNs(const int *pids, int n) {
  long long sum = 0;
  for (int i = 0; i < n; i++) {
    long long v = procRunNs(pids[i]);
    if (v > 0) sum += v;
  }
  return sum;
}

/* Idle time of the whole machine in seconds (/proc/stat "cpu": idle + iowait).
 * With a tickless idle kernel these are measured at idle entry and exit, not
 * sampled by the tick, so busy time = CPUs x wall time - idle is exact even
 * for loads paced by a 1 ms timer (which the tick-sampled user and system
 * columns alias with). In-kernel forwarding runs in softirq context, charged
 * to whichever task it interrupts (here mostly the generator): only the
 * machine as a whole shows its cost. -1 when unreadable. */
static double machineIdleSeconds(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[5] = {0};
  int got = fscanf(f, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]);
  fclose(f);
  if (got < 5) return -1;
  return (double)(v[3] + v[4]) / (double)sysconf(_SC_CLK_TCK);
}

static double cpuSeconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static unsigned percentile(uint64_t total, double p) {
  if (!total) return 0;
  uint64_t want = (uint64_t)(p * (double)total);
  if (want >= total) want = total - 1;
  uint64_t acc = 0;
  for (unsigned i = 0; i <= HIST_US; i++) {
    acc += hist[i];
    if (acc > want) return i;
  }
  return HIST_US;
}

static void run(unsigned n, unsigned warmupMs, unsigned measureMs, int pid, unsigned rate,
                const int *extra, int nextra) {
  if (n > ncalls) n = ncalls;
  unsigned interval = rate ? 1000 / rate : 20;
  if (interval < 1) interval = 1;
  memset(hist, 0, sizeof(hist));
  sentMeasured = recvMeasured = recvTotal = reordered = sendErrors = foreign = negative = 0;
  sentDir[0] = sentDir[1] = recvDir[0] = recvDir[1] = sentAll[0] = sentAll[1] = recvAll[0] = recvAll[1] = 0;
  wrongPt = seqAhead = 0;
  counting = 0;
  measuring = 0;
  for (unsigned i = 0; i < ncalls; i++) calls[i].seen[0] = calls[i].seen[1] = 0;

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (tfd < 0) die("timerfd_create");
  struct itimerspec its = {{0, 1000000}, {0, 1000000}};
  timerfd_settime(tfd, 0, &its, NULL);

  uint64_t tick = 0;
  uint64_t warmTicks = warmupMs, endTicks = warmupMs + measureMs;
  /* Replay mode sends on after the window (see the top of the file). */
  uint64_t sendEnd = endTicks + (replay ? TAIL_TICKS : 0);
  int windowDone = 0;
  long long ticks0 = -1, ticks1 = -1, run0 = -1, run1 = -1, extra0 = 0, extra1 = 0;
  int64_t t0 = 0, t1 = 0;
  double cpu0 = 0, cpu1 = 0, idle0 = 0, idle1 = 0;
  uint64_t maxLagTicks = 0, skippedTicks = 0;
  int64_t drainEnd = 0;
  /* One loop turn per 1 ms tick: send the tick's packets, then read whatever
   * came back. The receive sockets are not waited on (no epoll, no blocking
   * read), so a packet the daemon sends never has to wake this process: the
   * daemon's send costs what it would cost towards a network card, not an
   * inter-processor wake-up per packet. The latency figures come from the
   * kernel's receive timestamps and do not depend on when the packets are read. */
  for (;;) {
    uint64_t exp = 0;
    if (read(tfd, &exp, sizeof(exp)) != sizeof(exp)) {
      if (errno == EINTR) continue;
      die("read timerfd");
    }
    for (int s = 0; s < nsocks; s++) {
      drain(sockA[s]);
      drain(sockB[s]);
    }
    if (drainEnd) {
      if (nowNs(CLOCK_MONOTONIC) >= drainEnd) break;
      continue;
    }
    if (exp > maxLagTicks) maxLagTicks = exp;
    /* Catch up on a few missed ticks so that the rate holds; after a longer
     * stall, skip the missed ticks (and say so) rather than send seconds of
     * traffic at once. */
    if (exp > interval) {
      uint64_t skip = exp - interval;
      if (skip > sendEnd - tick) skip = sendEnd - tick;
      if (tick < warmTicks && tick + skip > warmTicks) skip = warmTicks - tick;
      if (tick < endTicks && tick + skip > endTicks) skip = endTicks - tick;
      if (tick >= warmTicks && tick < endTicks) skippedTicks += skip;
      tick += skip;
      exp = interval;
    }
    for (uint64_t e = 0; e < exp && tick < sendEnd; e++, tick++) {
      if (tick == warmTicks) {
        measuring = 1;
        counting = 1;
        for (unsigned c = 0; c < n; c++) {
          calls[c].winFirst[0] = calls[c].seq[0];
          calls[c].winFirst[1] = calls[c].seq[1];
        }
        ticks0 = procTicks(pid);
        run0 = procRunNs(pid);
        extra0 = listRunNs(extra, nextra);
        t0 = nowNs(CLOCK_MONOTONIC);
        cpu0 = cpuSeconds();
        idle0 = machineIdleSeconds();
      }
      if (tick == endTicks && !windowDone) break; /* the window ends below, before the tail is sent */
      for (unsigned c = (unsigned)(tick % interval); c < n; c += interval) {
        queue(c, 0);
        queue(c, 1);
      }
      for (int b = 0; b < 2 * nsocks; b++) flush(&batches[b]);
    }
    if (tick >= endTicks && !windowDone) {
      windowDone = 1;
      ticks1 = procTicks(pid);
      run1 = procRunNs(pid);
      extra1 = listRunNs(extra, nextra);
      t1 = nowNs(CLOCK_MONOTONIC);
      cpu1 = cpuSeconds();
      idle1 = machineIdleSeconds();
      measuring = 0;
      for (unsigned c = 0; c < n; c++) {
        calls[c].winEnd[0] = calls[c].seq[0];
        calls[c].winEnd[1] = calls[c].seq[1];
      }
      if (tick < sendEnd) continue; /* the tail starts with the next tick */
    }
    if (tick >= sendEnd) {
      /* Packets in flight get 500 ms to arrive. */
      drainEnd = nowNs(CLOCK_MONOTONIC) + 500000000LL;
    }
  }
  close(tfd);

  double secs = (t1 - t0) / 1e9;
  long hz = sysconf(_SC_CLK_TCK);
  double daemonCpu = (ticks0 >= 0 && ticks1 >= 0) ? (double)(ticks1 - ticks0) / (double)hz : -1;
  printf("result {\"calls\":%u,\"seconds\":%.3f,\"sent\":%llu,\"received\":%llu,\"receivedTotal\":%llu,"
         "\"reordered\":%llu,\"sendErrors\":%llu,\"foreign\":%llu,\"negativeLatency\":%llu,"
         "\"p50us\":%u,\"p90us\":%u,\"p99us\":%u,\"p999us\":%u,\"maxLagTicks\":%llu,\"skippedTicks\":%llu,"
         "\"daemonCpuS\":%.3f,\"daemonRunS\":%.4f,\"extraRunS\":%.4f,\"genCpuS\":%.3f,"
         "\"sentDir\":[%llu,%llu],\"receivedDir\":[%llu,%llu],\"sentAll\":[%llu,%llu],\"receivedAll\":[%llu,%llu],"
         "\"wrongPt\":%llu,\"seqAhead\":%llu,\"machineBusyS\":%.3f}\n",
         n, secs, (unsigned long long)sentMeasured, (unsigned long long)recvMeasured,
         (unsigned long long)recvTotal, (unsigned long long)reordered, (unsigned long long)sendErrors,
         (unsigned long long)foreign, (unsigned long long)negative, percentile(recvMeasured, 0.50),
         percentile(recvMeasured, 0.90), percentile(recvMeasured, 0.99), percentile(recvMeasured, 0.999),
         (unsigned long long)maxLagTicks, (unsigned long long)skippedTicks, daemonCpu, (run0 >= 0 && run1 >= 0) ? (run1 - run0) / 1e9 : -1.0,
         (extra1 - extra0) / 1e9, cpu1 - cpu0, (unsigned long long)sentDir[0], (unsigned long long)sentDir[1],
         (unsigned long long)recvDir[0], (unsigned long long)recvDir[1], (unsigned long long)sentAll[0],
         (unsigned long long)sentAll[1], (unsigned long long)recvAll[0], (unsigned long long)recvAll[1],
         (unsigned long long)wrongPt, (unsigned long long)seqAhead,
         (idle0 >= 0 && idle1 >= 0) ? secs * (double)sysconf(_SC_NPROCESSORS_ONLN) - (idle1 - idle0) : -1.0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--socks=", 8) == 0) nsocks = atoi(argv[i] + 8);
  }
  if (nsocks < 1) nsocks = 1;
  if (nsocks > MAX_SOCKS) nsocks = MAX_SOCKS;

  for (int s = 0; s < nsocks; s++) {
    sockA[s] = openSock(&portA[s]);
    sockB[s] = openSock(&portB[s]);
  }
  for (int b = 0; b < 2 * nsocks; b++) {
    struct batch *bt = &batches[b];
    bt->fd = b < nsocks ? sockA[b] : sockB[b - nsocks];
    bt->dir = b < nsocks ? 0 : 1;
    for (int i = 0; i < SEND_BATCH; i++) {
      bt->dst[i].sin_family = AF_INET;
      bt->dst[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bt->iov[i].iov_base = bt->pkt[i];
      bt->iov[i].iov_len = PKT_LEN;
      memset(bt->pkt[i], 0xd5, PKT_LEN); /* PCMU silence-ish filler */
      bt->msg[i].msg_hdr.msg_iov = &bt->iov[i];
      bt->msg[i].msg_hdr.msg_iovlen = 1;
      bt->msg[i].msg_hdr.msg_name = &bt->dst[i];
      bt->msg[i].msg_hdr.msg_namelen = sizeof(bt->dst[i]);
    }
  }
  for (int i = 0; i < RECV_BATCH; i++) {
    riov[i].iov_base = rbuf[i];
    riov[i].iov_len = sizeof(rbuf[i]);
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
    rmsg[i].msg_hdr.msg_control = rctl[i];
    rmsg[i].msg_hdr.msg_name = &rname[i];
  }

  printf("ports A ");
  for (int s = 0; s < nsocks; s++) printf("%s%u", s ? "," : "", portA[s]);
  printf(" B ");
  for (int s = 0; s < nsocks; s++) printf("%s%u", s ? "," : "", portB[s]);
  printf("\n");
  fflush(stdout);

  static char line[2 * MAX_PKT + 64];
  while (fgets(line, sizeof(line), stdin)) {
    unsigned a, b, c, d, e;
    int pid, consumed = 0;
    if (sscanf(line, "call %u %u", &a, &b) == 2) {
      if (ncalls >= MAX_CALLS || a > 65535 || b > 65535) {
        fprintf(stderr, "loadgen: bad call line or too many calls\n");
        return 1;
      }
      calls[ncalls].dst[0] = (uint16_t)a;
      calls[ncalls].dst[1] = (uint16_t)b;
      /* What side A receives comes from dst[0] and is direction 1 (B->A). */
      fromPort[a] = ncalls * 2 + 1 + 1;
      fromPort[b] = ncalls * 2 + 0 + 1;
      ncalls++;
    } else if (sscanf(line, "frame %u %u %u %n", &a, &b, &c, &consumed) == 3 && consumed > 0) {
      char *hex = line + consumed;
      size_t hl = strcspn(hex, " \r\n");
      if (a > 1 || b > 127 || nframes[a] >= MAX_FRAMES || hl % 2 || hl / 2 > MAX_PKT - 12 || hl == 0) {
        fprintf(stderr, "loadgen: bad frame line or too many frames\n");
        return 1;
      }
      for (size_t i = 0; i < hl / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
          fprintf(stderr, "loadgen: bad hex in frame line\n");
          return 1;
        }
        frames[a][nframes[a]][i] = (uint8_t)v;
      }
      frameLen[a][nframes[a]] = (uint16_t)(hl / 2);
      framePt[a] = (uint8_t)b;
      frameTsStep[a] = c;
      nframes[a]++;
      replay = nframes[0] > 0 && nframes[1] > 0;
    } else if (sscanf(line, "run %u %u %u %d %u%n", &a, &c, &d, &pid, &e, &consumed) == 5) {
      /* Optional: more pids (comma-separated) whose CPU time is reported as extraRunS. */
      int extra[16], nextra = 0;
      for (char *t = strtok(line + consumed, " ,\n"); t && nextra < 16; t = strtok(NULL, " ,\n")) extra[nextra++] = atoi(t);
      if ((nframes[0] > 0) != (nframes[1] > 0)) {
        fprintf(stderr, "loadgen: replay needs frames for both directions\n");
        return 1;
      }
      run(a, c, d, pid, e, extra, nextra);
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      fprintf(stderr, "loadgen: unknown command: %s", line);
      return 1;
    }
  }
  return 0;
}
