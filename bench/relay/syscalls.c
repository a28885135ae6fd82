/*
 * Syscall-strategy prototype for the relay benchmark: the smallest possible
 * UDP relay, to measure what the choice of system calls costs on its own,
 * without any per-packet work of a media proxy. Not product code.
 *
 *   syscalls MODE N A1,A2,... B1,B2,...
 *
 * binds 2N UDP sockets on 127.0.0.1 (socket 2i faces side A of call i, 2i+1
 * side B), prints "PORT_A PORT_B" per call and then "ready", and forwards
 * whatever arrives on one socket of a call out of the other one, to the
 * generator port given for that side (call i uses A[i % k] and B[i % k]).
 * bench/relay.ts runs it with --syscall-proto=MODE,... in place of a daemon.
 *
 * MODE:
 *   lt     level-triggered epoll, recvmmsg (32) until short, sendto per packet
 *          (the engine before issue 3)
 *   lt1    level-triggered epoll, one recvmsg per event, sendto per packet
 *   et     edge-triggered epoll, recvmmsg until short, sendto per packet
 *   etm    as et, sends queued and sent with sendmmsg per socket at the end
 *          of each epoll batch (the engine's scheme)
 *   etc    as et, then sleeps COALESCE_US (environment, default 200) after a
 *          busy batch before polling again (wake-up coalescing)
 *   uring  io_uring: multishot recvmsg on every socket with a provided buffer
 *          ring, sends as IORING_OP_SEND with a destination address, one
 *          io_uring_enter per batch (needs liburing; built with -DHAVE_URING)
 *
 * Build: cc -O2 -o syscalls syscalls.c [-DHAVE_URING -luring]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_URING
#include <liburing.h>
#endif

#define MAXS 40000
static int fds[MAXS];
static int peerOf[MAXS];               /* the socket a packet is forwarded out of */
static struct sockaddr_in dstOf[MAXS]; /* where that socket sends */
static int nsock;
static char mode[16];

static int openSock(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    perror("bind");
    exit(1);
  }
  return fd;
}

static int portOf(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &l);
  return ntohs(a.sin_port);
}

#define B 32
static struct mmsghdr msgs[B];
static struct iovec iov[B];
static struct sockaddr_in src[B];
static uint8_t data[B][2048];

/* Deferred sends (etm). */
#define SQ 4096
static struct mmsghdr smsg[SQ];
static struct iovec siov[SQ];
static uint8_t sdata[SQ][256];
static int sfd[SQ];
static int nq;

static void sendNow(int out, const uint8_t *d, int len) {
  sendto(fds[out], d, len, MSG_DONTWAIT, (struct sockaddr *)&dstOf[out], sizeof(struct sockaddr_in));
}

static void queueSend(int out, const uint8_t *d, int len) {
  if (nq == SQ || len > 256) return;
  memcpy(sdata[nq], d, len);
  siov[nq].iov_base = sdata[nq];
  siov[nq].iov_len = len;
  smsg[nq].msg_hdr.msg_iov = &siov[nq];
  smsg[nq].msg_hdr.msg_iovlen = 1;
  smsg[nq].msg_hdr.msg_name = &dstOf[out];
  smsg[nq].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  sfd[nq] = out;
  nq++;
}

static void flushSends(void) {
  /* Entries of one socket are contiguous here (one reader per socket). */
  int i = 0;
  while (i < nq) {
    int j = i + 1;
    while (j < nq && sfd[j] == sfd[i]) j++;
    if (j - i == 1) {
      sendNow(sfd[i], sdata[i], (int)siov[i].iov_len);
    } else {
      int done = i;
      while (done < j) {
        int r = sendmmsg(fds[sfd[i]], smsg + done, j - done, MSG_DONTWAIT);
        if (r <= 0) break;
        done += r;
      }
    }
    i = j;
  }
  nq = 0;
}

static void runEpoll(void) {
  int et = !strcmp(mode, "et") || !strcmp(mode, "etm") || !strcmp(mode, "etc");
  int one = !strcmp(mode, "lt1");
  int defer = !strcmp(mode, "etm");
  int coalesceUs = 0;
  if (!strcmp(mode, "etc")) coalesceUs = getenv("COALESCE_US") ? atoi(getenv("COALESCE_US")) : 200;
  int ep = epoll_create1(0);
  for (int i = 0; i < nsock; i++) {
    struct epoll_event ev = {.events = EPOLLIN | (et ? EPOLLET : 0), .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  for (int i = 0; i < B; i++) {
    iov[i].iov_base = data[i];
    iov[i].iov_len = sizeof(data[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &src[i];
  }
  struct epoll_event evs[128];
  int idle = 1;
  for (;;) {
    int n;
    if (coalesceUs && !idle) {
      /* Just handled a batch: let more packets gather before looking again. */
      struct timespec ts = {0, coalesceUs * 1000L};
      nanosleep(&ts, NULL);
      n = epoll_wait(ep, evs, 128, 0);
      idle = n == 0;
      if (n == 0) continue;
    } else {
      n = epoll_wait(ep, evs, 128, -1);
      idle = 0;
    }
    for (int e = 0; e < n; e++) {
      int s = (int)evs[e].data.u32;
      int out = peerOf[s];
      if (one) {
        struct msghdr *h = &msgs[0].msg_hdr;
        h->msg_namelen = sizeof(src[0]);
        ssize_t r = recvmsg(fds[s], h, MSG_DONTWAIT);
        if (r > 0) sendNow(out, data[0], (int)r);
        continue;
      }
      for (;;) {
        for (int i = 0; i < B; i++) msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
        int r = recvmmsg(fds[s], msgs, B, MSG_DONTWAIT, NULL);
        if (r <= 0) break;
        for (int i = 0; i < r; i++) {
          if (defer) queueSend(out, data[i], (int)msgs[i].msg_len);
          else sendNow(out, data[i], (int)msgs[i].msg_len);
        }
        if (r < B) break;
      }
    }
    if (defer) flushSends();
  }
}

#ifdef HAVE_URING
#define NBUF 4096
#define BUFSZ 2048
#define BGID 1
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static uint8_t *bufs;
static struct msghdr rmh;

static struct io_uring_sqe *sqeOrFlush(void) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

static void armRecv(int s) {
  struct io_uring_sqe *sqe = sqeOrFlush();
  io_uring_prep_recvmsg_multishot(sqe, fds[s], &rmh, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BGID;
  io_uring_sqe_set_data64(sqe, (uint64_t)s);
}

static void recycle(int bid) {
  io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), 0);
  io_uring_buf_ring_advance(br, 1);
}

static void runUring(void) {
  struct io_uring_params p = {0};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
  p.cq_entries = 16384;
  int r = io_uring_queue_init_params(4096, &ring, &p);
  if (r) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
    exit(1);
  }
  if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf))) exit(1);
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
  r = io_uring_register_buf_ring(&ring, &reg, 0);
  if (r) {
    fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-r));
    exit(1);
  }
  bufs = malloc((size_t)NBUF * BUFSZ);
  for (int i = 0; i < NBUF; i++)
    io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
  io_uring_buf_ring_advance(br, NBUF);
  rmh.msg_namelen = sizeof(struct sockaddr_in6);
  for (int i = 0; i < nsock; i++) armRecv(i);
  io_uring_submit(&ring);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      uint64_t ud = cqe->user_data;
      if (ud & (1ull << 63)) { /* send done: the buffer goes back to the ring */
        recycle((int)(ud & 0xffff));
        continue;
      }
      int s = (int)ud;
      if (!(cqe->flags & IORING_CQE_F_MORE)) armRecv(s);
      if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER)) continue;
      int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      uint8_t *buf = bufs + (size_t)bid * BUFSZ;
      struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, &rmh);
      if (!o || (o->flags & MSG_TRUNC)) {
        recycle(bid);
        continue;
      }
      void *payload = io_uring_recvmsg_payload(o, &rmh);
      unsigned plen = io_uring_recvmsg_payload_length(o, cqe->res, &rmh);
      int out = peerOf[s];
      struct io_uring_sqe *sqe = sqeOrFlush();
      io_uring_prep_send(sqe, fds[out], payload, plen, 0);
      sqe->addr2 = (uint64_t)(uintptr_t)&dstOf[out]; /* sendto (Linux 6.0+) */
      sqe->addr_len = sizeof(struct sockaddr_in);
      io_uring_sqe_set_data64(sqe, (1ull << 63) | (uint64_t)bid);
    }
    io_uring_cq_advance(&ring, seen);
  }
}
#endif

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: syscalls MODE N A1,A2,... B1,B2,...\n");
    return 2;
  }
  strncpy(mode, argv[1], sizeof(mode) - 1);
  int n = atoi(argv[2]);
  if (n < 1 || 2 * n > MAXS) return 2;
  int ga[64], gb[64], ka = 0, kb = 0;
  for (char *t = strtok(argv[3], ","); t && ka < 64; t = strtok(NULL, ",")) ga[ka++] = atoi(t);
  for (char *t = strtok(argv[4], ","); t && kb < 64; t = strtok(NULL, ",")) gb[kb++] = atoi(t);
  if (!ka || !kb) return 2;
  for (int i = 0; i < n; i++) {
    int x = 2 * i, y = 2 * i + 1;
    fds[x] = openSock();
    fds[y] = openSock();
    peerOf[x] = y;
    peerOf[y] = x;
    dstOf[x].sin_family = dstOf[y].sin_family = AF_INET;
    dstOf[x].sin_addr.s_addr = dstOf[y].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dstOf[x].sin_port = htons(ga[i % ka]); /* socket x faces side A */
    dstOf[y].sin_port = htons(gb[i % kb]);
  }
  nsock = 2 * n;
  for (int i = 0; i < n; i++) printf("%d %d\n", portOf(fds[2 * i]), portOf(fds[2 * i + 1]));
  printf("ready\n");
  fflush(stdout);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (!strcmp(mode, "uring")) {
#ifdef HAVE_URING
    runUring();
#else
    fprintf(stderr, "built without liburing\n");
    return 1;
#endif
  }
  runEpoll();
  return 0;
}
