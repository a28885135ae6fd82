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
 * Protocol on stdin/stdout, one line each:
 *   (start-up)                 -> "ports A <p,p,...> B <p,p,...>"
 *   call <dstA> <dstB>         add a call (dst ports on 127.0.0.1); no reply
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
#define SEND_BATCH 8
#define RECV_BATCH 64
#define HIST_US 500000 /* latency histogram: 1 us buckets up to 0.5 s */
#define MAGIC 0x52545042u /* "RTPB" */

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
};

static struct call calls[MAX_CALLS];
static unsigned ncalls;
static int nsocks = 4;
static int sockA[MAX_SOCKS], sockB[MAX_SOCKS];
static uint16_t portA[MAX_SOCKS], portB[MAX_SOCKS];

/* Send batches, one per socket of each side. */
struct batch {
  int fd;
  unsigned n;
  struct mmsghdr msg[SEND_BATCH];
  struct iovec iov[SEND_BATCH];
  struct sockaddr_in dst[SEND_BATCH];
  uint8_t pkt[SEND_BATCH][PKT_LEN];
};
static struct batch batches[2 * MAX_SOCKS];

/* Receive buffers. */
static struct mmsghdr rmsg[RECV_BATCH];
static struct iovec riov[RECV_BATCH];
static uint8_t rbuf[RECV_BATCH][2048];
static char rctl[RECV_BATCH][CMSG_SPACE(sizeof(struct timespec))];

/* Run statistics. */
static uint32_t hist[HIST_US + 1];
static uint64_t sentMeasured, recvMeasured, recvTotal, reordered, sendErrors, foreign, negative;
static int measuring;

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
  for (unsigned i = 0; i < b->n; i++) {
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
  pkt[1] = 0; /* PCMU */
  pkt[2] = seq >> 8;
  pkt[3] = seq & 0xff;
  uint32_t ts = (uint32_t)seq * 160;
  pkt[4] = ts >> 24;
  pkt[5] = ts >> 16;
  pkt[6] = ts >> 8;
  pkt[7] = ts;
  uint32_t ssrc = ci * 2 + dir + 1;
  memcpy(pkt + 8, &ssrc, 4);
  struct payload *p = (struct payload *)(pkt + 12);
  p->magic = MAGIC;
  p->call = ci;
  p->dir = (uint8_t)dir;
  p->measured = (uint8_t)measuring;
  if (measuring) sentMeasured++;
  b->dst[k].sin_port = htons(c->dst[dir]);
  b->n = k + 1;
  if (b->n == SEND_BATCH) flush(b);
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
      rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(fd, rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
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
  measuring = 0;
  for (unsigned i = 0; i < ncalls; i++) calls[i].seen[0] = calls[i].seen[1] = 0;

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (tfd < 0) die("timerfd_create");
  struct itimerspec its = {{0, 1000000}, {0, 1000000}};
  timerfd_settime(tfd, 0, &its, NULL);

  uint64_t tick = 0;
  uint64_t warmTicks = warmupMs, endTicks = warmupMs + measureMs;
  long long ticks0 = -1, ticks1 = -1, run0 = -1, run1 = -1, extra0 = 0, extra1 = 0;
  int64_t t0 = 0, t1 = 0;
  double cpu0 = 0, cpu1 = 0;
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
      if (skip > endTicks - tick) skip = endTicks - tick;
      if (tick < warmTicks && tick + skip > warmTicks) skip = warmTicks - tick;
      if (tick >= warmTicks) skippedTicks += skip;
      tick += skip;
      exp = interval;
    }
    for (uint64_t e = 0; e < exp && tick < endTicks; e++, tick++) {
      if (tick == warmTicks) {
        measuring = 1;
        ticks0 = procTicks(pid);
        run0 = procRunNs(pid);
        extra0 = listRunNs(extra, nextra);
        t0 = nowNs(CLOCK_MONOTONIC);
        cpu0 = cpuSeconds();
      }
      for (unsigned c = (unsigned)(tick % interval); c < n; c += interval) {
        queue(c, 0);
        queue(c, 1);
      }
      for (int b = 0; b < 2 * nsocks; b++) flush(&batches[b]);
    }
    if (tick >= endTicks) {
      ticks1 = procTicks(pid);
      run1 = procRunNs(pid);
      extra1 = listRunNs(extra, nextra);
      t1 = nowNs(CLOCK_MONOTONIC);
      cpu1 = cpuSeconds();
      measuring = 0;
      /* Packets in flight get 500 ms to arrive. */
      drainEnd = t1 + 500000000LL;
    }
  }
  close(tfd);

  double secs = (t1 - t0) / 1e9;
  long hz = sysconf(_SC_CLK_TCK);
  double daemonCpu = (ticks0 >= 0 && ticks1 >= 0) ? (double)(ticks1 - ticks0) / (double)hz : -1;
  printf("result {\"calls\":%u,\"seconds\":%.3f,\"sent\":%llu,\"received\":%llu,\"receivedTotal\":%llu,"
         "\"reordered\":%llu,\"sendErrors\":%llu,\"foreign\":%llu,\"negativeLatency\":%llu,"
         "\"p50us\":%u,\"p90us\":%u,\"p99us\":%u,\"p999us\":%u,\"maxLagTicks\":%llu,\"skippedTicks\":%llu,"
         "\"daemonCpuS\":%.3f,\"daemonRunS\":%.4f,\"extraRunS\":%.4f,\"genCpuS\":%.3f}\n",
         n, secs, (unsigned long long)sentMeasured, (unsigned long long)recvMeasured,
         (unsigned long long)recvTotal, (unsigned long long)reordered, (unsigned long long)sendErrors,
         (unsigned long long)foreign, (unsigned long long)negative, percentile(recvMeasured, 0.50),
         percentile(recvMeasured, 0.90), percentile(recvMeasured, 0.99), percentile(recvMeasured, 0.999),
         (unsigned long long)maxLagTicks, (unsigned long long)skippedTicks, daemonCpu, (run0 >= 0 && run1 >= 0) ? (run1 - run0) / 1e9 : -1.0,
         (extra1 - extra0) / 1e9, cpu1 - cpu0);
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
  }

  printf("ports A ");
  for (int s = 0; s < nsocks; s++) printf("%s%u", s ? "," : "", portA[s]);
  printf(" B ");
  for (int s = 0; s < nsocks; s++) printf("%s%u", s ? "," : "", portB[s]);
  printf("\n");
  fflush(stdout);

  char line[256];
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
      ncalls++;
    } else if (sscanf(line, "run %u %u %u %d %u%n", &a, &c, &d, &pid, &e, &consumed) == 5) {
      /* Optional: more pids (comma-separated) whose CPU time is reported as extraRunS. */
      int extra[16], nextra = 0;
      for (char *t = strtok(line + consumed, " ,\n"); t && nextra < 16; t = strtok(NULL, " ,\n")) extra[nextra++] = atoi(t);
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
