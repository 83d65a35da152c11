/* rf-relay: the egress relay of one sandbox. Built by scripts/build-supervisor.sh into
 * build/rf-relay; src/egress/relay-process.ts starts it and speaks its control protocol.
 *
 * It listens on 127.0.0.1:PORT inside the sandbox's network namespace (the socket is made there
 * with setns, then the relay returns to its own namespace and drops to an unprivileged uid), and
 * forwards every connection to the session's unix socket, where the egress proxy decides.
 * For CONNECT tunnels the proxy may hand the byte path back to the relay: the relay dials the IP
 * the proxy checked and pinned, and moves the tunnel's bytes with splice(2), so bulk transfers
 * never cross a user-space copy. The relay interprets nothing of the bytes but the end of a
 * CONNECT request head; every decision stays with the proxy.
 *
 * Per connection:
 *   - the first bytes decide the mode: "CONNECT " -> the request head (up to CRLFCRLF) goes to the
 *     proxy with "X-Ringfence-Relay: <id>" inserted as its first header, then the client is not
 *     read until the proxy answers; anything else -> plain two-way forwarding (HTTP requests).
 *   - the proxy writes its HTTP answer on the unix connection as always (403, 200, ...).
 * Control, newline-terminated text lines. stdin (proxy -> relay):
 *   DIAL <id> <ip> <port>   connect to the pinned address (10 s timeout)
 *   SPLICE <id> <idle-ms>   the tunnel is approved: replay the bytes read since the 200 upstream,
 *                           then splice client <-> upstream; idle for idle-ms closes it
 *   PASS <id>               forward the client's bytes to the proxy again (TLS termination)
 *   DROP <id>               close the upstream connection; the proxy ends the unix connection
 * stdout (relay -> proxy): "READY <port>" once, then
 *   DIALED <id> <errno>     0 = connected; the client is read again (bytes go to the proxy and
 *                           are kept for the replay)
 *   BYTES <id> <in> <out>   progress of a spliced tunnel, every 1 MiB at least
 *   END <id> <in> <out> <why>  a spliced tunnel closed (why: eof, idle, error, drop)
 * stdin closing (the proxy is gone) ends the relay and every connection with it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (32 * 1024)         /* the proxy's own header cap */
#define REPLAY_MAX (80 * 1024)       /* > the proxy's 64 KiB ClientHello cap */
#define BUF_CAP (64 * 1024)          /* per direction, before the splice */
#define C2N_CAP (HEAD_MAX + REPLAY_MAX + 2 * BUF_CAP)
#define PIPE_WANT (256 * 1024)       /* splice pipe size asked for */
#define DIAL_TIMEOUT_MS 10000
#define VERDICT_TIMEOUT_MS 10000
#define REPORT_EVERY (1024 * 1024)
#define RELAY_HEADER "X-Ringfence-Relay: "

enum state {
  ST_SNIFF,   /* reading the first bytes */
  ST_HEAD,    /* a CONNECT: reading up to the end of its head */
  ST_HELD,    /* head sent, the client is not read until the proxy answers */
  ST_DIALING, /* DIAL received, connect() in progress */
  ST_PEEK,    /* dialled: client bytes go to the proxy and into the replay buffer */
  ST_PASS,    /* plain forwarding client <-> proxy */
  ST_SPLICE,  /* approved tunnel: client <-> upstream */
};

enum role { R_CLIENT, R_NODE, R_UP };

struct conn;
struct ep {
  struct conn *c; /* NULL for the listener and stdin */
  int role;
};

struct buf {
  char *d;
  size_t len, off, cap;
};

/* One direction of a spliced tunnel. */
struct pipedir {
  int p[2];
  size_t pending, cap;
  bool eof, shut;
  uint64_t count;
};

struct conn {
  uint64_t id;
  int client, node, up;
  enum state st;
  struct ep ec, en, eu;
  uint32_t mc, mn, mu; /* epoll masks currently registered */
  struct buf head;     /* SNIFF/HEAD: the request head so far */
  struct buf c2n;      /* client -> proxy */
  struct buf n2c;      /* proxy -> client */
  struct buf replay;   /* tunnel bytes read since the dial (and after the head) */
  struct buf c2u;      /* replay on its way upstream */
  bool client_eof, node_eof, c2n_shut;
  bool splice_ready; /* SPLICE received; upstream->client waits for the proxy's EOF */
  struct pipedir pu, pd; /* up: client->upstream, down: upstream->client */
  int64_t dial_deadline, last_activity;
  int64_t verdict_deadline; /* the proxy's leg ended before its verdict arrived */
  int idle_ms;
  uint64_t reported;
  bool dead; /* freed after the current batch of events */
  struct conn *next, *prev;
};

static int epfd;
static struct conn *conns, *graveyard;
static uint64_t next_id = 1;
static const char *socket_path;
static struct ep ep_listen = {NULL, -1}, ep_stdin = {NULL, -2};
static char ctl[8192];
static size_t ctl_len;

static void die(const char *what) {
  fprintf(stderr, "rf-relay: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line) return;
  size_t off = 0;
  while (off < (size_t)n) {
    ssize_t w = write(1, line + off, (size_t)n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0); /* the proxy is gone */
    }
    off += (size_t)w;
  }
}

static bool buf_reserve(struct buf *b, size_t cap) {
  if (b->d) return true;
  b->d = malloc(cap);
  b->cap = cap;
  b->len = b->off = 0;
  return b->d != NULL;
}

static void buf_free(struct buf *b) {
  free(b->d);
  b->d = NULL;
  b->len = b->off = b->cap = 0;
}

static size_t buf_room(const struct buf *b) { return b->d ? b->cap - b->len : 0; }

static bool buf_append(struct buf *b, const char *p, size_t n, size_t cap) {
  if (!buf_reserve(b, cap)) return false;
  if (b->off && b->len + n > b->cap) { /* compact */
    memmove(b->d, b->d + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
  }
  if (b->len + n > b->cap) return false;
  memcpy(b->d + b->len, p, n);
  b->len += n;
  return true;
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void set_mask(int fd, struct ep *e, uint32_t *cur, uint32_t want) {
  if (fd < 0 || *cur == want) return;
  struct epoll_event ev = {.events = want, .data.ptr = e};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0) die("epoll_ctl");
  *cur = want;
}

static void add_fd(int fd, struct ep *e, uint32_t *cur) {
  struct epoll_event ev = {.events = 0, .data.ptr = e};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
  *cur = 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) {
    close(*fd); /* also removes it from the epoll set */
    *fd = -1;
  }
}

static void pipe_close(struct pipedir *d) {
  close_fd(&d->p[0]);
  close_fd(&d->p[1]);
}

static void conn_free(struct conn *c, const char *why) {
  if (c->st == ST_SPLICE) say("END %llu %llu %llu %s\n", (unsigned long long)c->id,
                              (unsigned long long)c->pd.count, (unsigned long long)c->pu.count,
                              why);
  close_fd(&c->client);
  close_fd(&c->node);
  close_fd(&c->up);
  pipe_close(&c->pu);
  pipe_close(&c->pd);
  buf_free(&c->head);
  buf_free(&c->c2n);
  buf_free(&c->n2c);
  buf_free(&c->replay);
  buf_free(&c->c2u);
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  /* events already returned in this batch may still point at it: freed after the batch */
  c->dead = true;
  c->next = graveyard;
  graveyard = c;
}

static void bury(void) {
  while (graveyard) {
    struct conn *c = graveyard;
    graveyard = c->next;
    free(c);
  }
}

static struct conn *find(uint64_t id) {
  for (struct conn *c = conns; c; c = c->next)
    if (c->id == id) return c;
  return NULL;
}

/* write out b to fd; -1 on a fatal error */
static int flush(struct buf *b, int fd) {
  while (b->len > b->off) {
    ssize_t w = send(fd, b->d + b->off, b->len - b->off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    b->off += (size_t)w;
  }
  buf_free(b); /* idle connections hold no buffers */
  return 0;
}

/* The head is complete: insert the relay header after the request line and hand it over. */
static bool send_head(struct conn *c, size_t head_end) {
  char *d = c->head.d;
  char *eol = memmem(d, head_end, "\r\n", 2);
  if (!eol) return false;
  size_t line = (size_t)(eol - d) + 2;
  char hdr[64];
  int hn = snprintf(hdr, sizeof hdr, RELAY_HEADER "%llu\r\n", (unsigned long long)c->id);
  if (!buf_append(&c->c2n, d, line, C2N_CAP) ||
      !buf_append(&c->c2n, hdr, (size_t)hn, C2N_CAP) ||
      !buf_append(&c->c2n, d + line, head_end - line, C2N_CAP))
    return false;
  /* pipelined bytes after the head are the tunnel's first bytes: held for the replay */
  if (c->head.len > head_end &&
      !buf_append(&c->replay, d + head_end, c->head.len - head_end, REPLAY_MAX))
    return false;
  buf_free(&c->head);
  c->st = ST_HELD;
  return true;
}

/* Whatever was taken as head becomes plain forwarded bytes. */
static bool to_pass(struct conn *c) {
  bool ok = true;
  if (c->head.d) ok = buf_append(&c->c2n, c->head.d, c->head.len, C2N_CAP);
  if (c->replay.d && ok)
    ok = buf_append(&c->c2n, c->replay.d + c->replay.off, c->replay.len - c->replay.off,
                    C2N_CAP);
  buf_free(&c->head);
  buf_free(&c->replay);
  c->st = ST_PASS;
  return ok;
}

static bool reads_client(const struct conn *c) {
  switch (c->st) {
  case ST_SNIFF:
  case ST_HEAD:
    return true;
  case ST_PEEK:
    return !c->splice_ready && (!c->replay.d || buf_room(&c->replay) > 0) &&
           c->c2n.len - c->c2n.off < BUF_CAP;
  case ST_PASS:
    return c->c2n.len - c->c2n.off < BUF_CAP;
  default:
    return false;
  }
}

/* Reads what the client sent, by state; -1 = close the connection. */
static int read_client(struct conn *c) {
  char tmp[BUF_CAP];
  while (!c->client_eof && reads_client(c)) {
    size_t want = sizeof tmp;
    if (c->st == ST_PEEK && c->replay.d && want > buf_room(&c->replay))
      want = buf_room(&c->replay);
    ssize_t n = recv(c->client, tmp, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    if (n == 0) {
      c->client_eof = true;
      if (c->st == ST_SNIFF || c->st == ST_HEAD) to_pass(c);
      /* a client that stops sending before its tunnel is approved is done */
      return c->st == ST_PEEK ? -1 : 0;
    }
    switch (c->st) {
    case ST_SNIFF:
    case ST_HEAD: {
      if (!buf_append(&c->head, tmp, (size_t)n, HEAD_MAX)) {
        /* no end of head within the cap: forward as is, the proxy refuses it */
        to_pass(c);
        if (!buf_append(&c->c2n, tmp, (size_t)n, C2N_CAP)) return -1;
        break;
      }
      if (c->st == ST_SNIFF) {
        size_t k = c->head.len < 8 ? c->head.len : 8;
        if (memcmp(c->head.d, "CONNECT ", k) != 0) {
          if (!to_pass(c)) return -1;
          break;
        }
        if (k < 8) break;
        c->st = ST_HEAD;
      }
      char *end = memmem(c->head.d, c->head.len, "\r\n\r\n", 4);
      if (end && !send_head(c, (size_t)(end - c->head.d) + 4)) return -1;
      break;
    }
    case ST_PEEK:
      if (!buf_append(&c->replay, tmp, (size_t)n, REPLAY_MAX) ||
          !buf_append(&c->c2n, tmp, (size_t)n, C2N_CAP))
        return -1;
      break;
    case ST_PASS:
      if (!buf_append(&c->c2n, tmp, (size_t)n, C2N_CAP)) return -1;
      break;
    default:
      return 0;
    }
  }
  return 0;
}

/* One spliced direction; -1 on a fatal error. */
static int pump(struct conn *c, struct pipedir *d, int src, int dst, bool may_write) {
  for (;;) {
    bool moved = false;
    if (may_write && d->pending > 0) {
      ssize_t n = splice(d->p[0], NULL, dst, NULL, d->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->pending -= (size_t)n;
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    }
    if (!d->eof && d->pending < d->cap) {
      ssize_t n = splice(src, NULL, d->p[1], NULL, d->cap - d->pending,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->pending += (size_t)n;
        d->count += (uint64_t)n;
        moved = true;
      } else if (n == 0) {
        d->eof = true;
        moved = true;
      } else if (errno != EAGAIN && errno != EINTR)
        return -1;
    }
    if (may_write && d->eof && d->pending == 0 && !d->shut) {
      shutdown(dst, SHUT_WR);
      d->shut = true;
    }
    if (!moved) return 0;
    c->last_activity = now_ms();
  }
}

static bool open_pipe(struct pipedir *d) {
  if (pipe2(d->p, O_NONBLOCK | O_CLOEXEC) < 0) return false;
  int got = fcntl(d->p[0], F_SETPIPE_SZ, PIPE_WANT);
  if (got < 0) got = fcntl(d->p[0], F_GETPIPE_SZ);
  d->cap = got > 0 ? (size_t)got : 65536;
  return true;
}

/* Moves every byte that can move now and sets the epoll interest; false = connection done. */
static bool progress(struct conn *c) {
  if (c->st != ST_SPLICE && c->st != ST_DIALING) {
    if (read_client(c) < 0) return false;
  }
  /* client -> proxy */
  if (c->node >= 0 && c->c2n.d && !c->splice_ready) {
    if (flush(&c->c2n, c->node) < 0) return false;
  }
  if (c->node >= 0 && c->client_eof && !c->c2n_shut && c->c2n.len == c->c2n.off &&
      c->st == ST_PASS) {
    shutdown(c->node, SHUT_WR);
    c->c2n_shut = true;
  }
  /* proxy -> client */
  if (c->node >= 0 && !c->node_eof) {
    for (;;) {
      if (c->n2c.len > c->n2c.off) {
        if (flush(&c->n2c, c->client) < 0) return false;
        if (c->n2c.len > c->n2c.off) break;
      }
      if (!buf_reserve(&c->n2c, BUF_CAP)) return false;
      ssize_t n = recv(c->node, c->n2c.d, c->n2c.cap, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        c->node_eof = true; /* reset by the proxy: treat as its end */
        break;
      }
      if (n == 0) {
        c->node_eof = true;
        break;
      }
      c->n2c.len = (size_t)n;
    }
  } else if (c->n2c.len > c->n2c.off) {
    if (flush(&c->n2c, c->client) < 0) return false;
  }
  bool n2c_empty = c->n2c.len == c->n2c.off;
  if (c->node_eof && n2c_empty) {
    /* The proxy's leg ended. Its SPLICE or DROP (on stdin, unordered with this EOF) may still
     * be on its way while a dial is pending or the tunnel awaits its verdict: wait for it. */
    bool awaiting = c->st == ST_DIALING || (c->st == ST_PEEK && !c->splice_ready);
    if (c->node >= 0) {
      close_fd(&c->node);
      buf_free(&c->c2n);
      c->verdict_deadline = now_ms() + VERDICT_TIMEOUT_MS;
    }
    if (c->splice_ready) {
      if (c->st != ST_SPLICE) c->last_activity = now_ms();
      c->st = ST_SPLICE;
    } else if (!awaiting) {
      return false; /* the proxy ended the connection: refused, or done */
    }
  }
  if (c->st == ST_SPLICE) {
    if (c->c2u.d) {
      if (flush(&c->c2u, c->up) < 0) return false;
      if (c->c2u.len == c->c2u.off) buf_free(&c->c2u);
    }
    if (!c->c2u.d && pump(c, &c->pu, c->client, c->up, true) < 0) return false;
    if (pump(c, &c->pd, c->up, c->client, true) < 0) return false;
    if (c->pu.shut && c->pd.shut) return false;
    uint64_t total = c->pu.count + c->pd.count;
    if (total - c->reported >= REPORT_EVERY) {
      say("BYTES %llu %llu %llu\n", (unsigned long long)c->id, (unsigned long long)c->pd.count,
          (unsigned long long)c->pu.count);
      c->reported = total;
    }
  }

  /* epoll interest */
  uint32_t wc = 0, wn = 0, wu = 0;
  if (c->st == ST_SPLICE) {
    if (!c->c2u.d && !c->pu.eof && c->pu.pending < c->pu.cap) wc |= EPOLLIN;
    if (c->pd.pending > 0) wc |= EPOLLOUT;
    if (!c->pd.eof && c->pd.pending < c->pd.cap) wu |= EPOLLIN;
    if (c->c2u.d || c->pu.pending > 0) wu |= EPOLLOUT;
  } else {
    if (!c->client_eof && reads_client(c)) wc |= EPOLLIN;
    if (c->n2c.len > c->n2c.off) wc |= EPOLLOUT;
    if (c->node >= 0) {
      if (!c->node_eof && c->n2c.len == c->n2c.off) wn |= EPOLLIN;
      if (c->c2n.len > c->c2n.off && !c->splice_ready) wn |= EPOLLOUT;
    }
    if (c->st == ST_DIALING && c->up >= 0) wu |= EPOLLOUT;
  }
  /* the client's hang-up must be noticed while it is not read (held, dialling) */
  if (c->st == ST_HELD || c->st == ST_DIALING) wc |= EPOLLRDHUP;
  set_mask(c->client, &c->ec, &c->mc, wc);
  if (c->node >= 0) set_mask(c->node, &c->en, &c->mn, wn);
  if (c->up >= 0) set_mask(c->up, &c->eu, &c->mu, wu);
  return true;
}

static void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int node = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, socket_path, sizeof sa.sun_path - 1);
    if (node < 0 || connect(node, (struct sockaddr *)&sa, sizeof sa) < 0) {
      if (node >= 0) close(node);
      close(fd);
      continue;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      close(node);
      continue;
    }
    c->id = next_id++;
    c->client = fd;
    c->node = node;
    c->up = -1;
    c->pu.p[0] = c->pu.p[1] = c->pd.p[0] = c->pd.p[1] = -1;
    c->st = ST_SNIFF;
    c->ec = (struct ep){c, R_CLIENT};
    c->en = (struct ep){c, R_NODE};
    c->eu = (struct ep){c, R_UP};
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    add_fd(fd, &c->ec, &c->mc);
    add_fd(node, &c->en, &c->mn);
    if (!progress(c)) conn_free(c, "error");
  }
}

static void dial_done(struct conn *c, int err) {
  say("DIALED %llu %d\n", (unsigned long long)c->id, err);
  if (err) {
    close_fd(&c->up);
    c->st = ST_HELD;
    return;
  }
  int one = 1;
  setsockopt(c->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->st = ST_PEEK;
  /* bytes pipelined after the head go to the proxy now (they stay in the replay) */
  if (c->replay.d && c->replay.len)
    buf_append(&c->c2n, c->replay.d, c->replay.len, C2N_CAP);
}

static void cmd_dial(uint64_t id, const char *ip, int port) {
  struct conn *c = find(id);
  if (!c || c->st != ST_HELD || port <= 0 || port > 65535) {
    say("DIALED %llu %d\n", (unsigned long long)id, c ? EINVAL : ECONNABORTED);
    return;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    len = sizeof *s6;
  } else {
    say("DIALED %llu %d\n", (unsigned long long)id, EINVAL);
    return;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    say("DIALED %llu %d\n", (unsigned long long)id, errno);
    return;
  }
  c->up = fd;
  add_fd(fd, &c->eu, &c->mu);
  if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
    dial_done(c, 0);
  } else if (errno == EINPROGRESS) {
    c->st = ST_DIALING;
    c->dial_deadline = now_ms() + DIAL_TIMEOUT_MS;
  } else {
    dial_done(c, errno);
  }
  if (!progress(c)) conn_free(c, "error");
}

static void on_up_ready(struct conn *c) {
  int err = 0;
  socklen_t l = sizeof err;
  if (getsockopt(c->up, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
  if (err == EINPROGRESS) return;
  dial_done(c, err);
}

static void cmd_splice(uint64_t id, int idle_ms) {
  struct conn *c = find(id);
  if (!c || c->st != ST_PEEK || c->up < 0 || c->splice_ready) {
    if (c) conn_free(c, "error");
    return;
  }
  if (!open_pipe(&c->pu) || !open_pipe(&c->pd)) {
    conn_free(c, "error");
    return;
  }
  /* everything read since the dial goes upstream first, in order */
  if (c->replay.d && c->replay.len > 0) {
    c->pu.count = c->replay.len;
    c->c2u = c->replay;
    c->replay = (struct buf){0};
  }
  buf_free(&c->replay);
  buf_free(&c->c2n);
  c->idle_ms = idle_ms > 0 ? idle_ms : 0;
  /* The proxy ends its leg after this command; its last bytes still reach the client before
   * upstream's (progress() switches to ST_SPLICE at the proxy's EOF). */
  c->splice_ready = true;
  if (!progress(c)) conn_free(c, "eof");
}

static void cmd_pass(uint64_t id) {
  struct conn *c = find(id);
  if (!c || c->st != ST_HELD) return;
  if (!to_pass(c) || !progress(c)) conn_free(c, "error");
}

static void cmd_drop(uint64_t id) {
  struct conn *c = find(id);
  if (!c) return;
  if (c->st == ST_SPLICE) {
    conn_free(c, "drop");
    return;
  }
  close_fd(&c->up);
  buf_free(&c->replay);
  c->st = ST_HELD;
  c->splice_ready = false;
  if (!progress(c)) conn_free(c, "drop");
}

static void on_control(void) {
  for (;;) {
    ssize_t n = read(0, ctl + ctl_len, sizeof ctl - ctl_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      exit(0);
    }
    if (n == 0) exit(0); /* the proxy is gone: so is every tunnel */
    ctl_len += (size_t)n;
    char *start = ctl, *nl;
    while ((nl = memchr(start, '\n', ctl_len - (size_t)(start - ctl)))) {
      *nl = 0;
      unsigned long long id;
      char ip[64];
      int a;
      if (sscanf(start, "DIAL %llu %63s %d", &id, ip, &a) == 3) cmd_dial(id, ip, a);
      else if (sscanf(start, "SPLICE %llu %d", &id, &a) == 2) cmd_splice(id, a);
      else if (sscanf(start, "PASS %llu", &id) == 1) cmd_pass(id);
      else if (sscanf(start, "DROP %llu", &id) == 1) cmd_drop(id);
      else fprintf(stderr, "rf-relay: unknown command: %.80s\n", start);
      start = nl + 1;
    }
    ctl_len -= (size_t)(start - ctl);
    memmove(ctl, start, ctl_len);
    if (ctl_len == sizeof ctl) exit(2); /* a line longer than any command */
  }
}

static void tick(void) {
  int64_t t = now_ms();
  struct conn *c = conns, *next;
  for (; c; c = next) {
    next = c->next;
    if (c->st == ST_DIALING && t >= c->dial_deadline) {
      dial_done(c, ETIMEDOUT);
      if (!progress(c)) conn_free(c, "error");
    } else if (c->node < 0 && c->st == ST_PEEK && !c->splice_ready &&
               t >= c->verdict_deadline) {
      conn_free(c, "error");
    } else if (c->st == ST_SPLICE && c->idle_ms > 0 && t - c->last_activity >= c->idle_ms) {
      conn_free(c, "idle");
    }
  }
}

static int listen_in(const char *netns, int port, int *bound_port) {
  int self = -1, target = -1;
  if (netns) {
    self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    target = open(netns, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0) die("open netns");
    if (setns(target, CLONE_NEWNET) < 0) die("setns into the sandbox");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind 127.0.0.1");
  if (listen(fd, 1024) < 0) die("listen");
  socklen_t l = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &l);
  *bound_port = ntohs(sa.sin_port);
  if (netns) {
    if (setns(self, CLONE_NEWNET) < 0) die("setns back");
    close(self);
    close(target);
  }
  return fd;
}

static void drop_privileges(long uid, long gid, pid_t parent) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (uid >= 0) {
    if (setgroups(0, NULL) < 0 && errno != EPERM) die("setgroups");
    if (setgid((gid_t)gid) < 0) die("setgid");
    if (setuid((uid_t)uid) < 0) die("setuid");
  }
  /* after the uid change, which clears it */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) exit(0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

int main(int argc, char **argv) {
  const char *netns = NULL;
  int port = 3128;
  long uid = -1, gid = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--netns")) netns = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--socket")) socket_path = argv[i + 1];
    else if (!strcmp(argv[i], "--uid")) uid = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--gid")) gid = atol(argv[i + 1]);
    else {
      fprintf(stderr, "rf-relay: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!socket_path || strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "usage: rf-relay --socket PATH [--netns /proc/PID/ns/net] [--port N] "
                    "[--uid U --gid G]\n");
    return 2;
  }
  if (gid < 0) gid = uid;
  pid_t parent = getppid();
  signal(SIGPIPE, SIG_IGN);
  int bound = 0;
  int lfd = listen_in(netns, port, &bound);
  drop_privileges(uid, gid, parent);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  nonblock(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ep_listen};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl listen");
  ev.data.ptr = &ep_stdin;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin");
  say("READY %d\n", bound);

  struct epoll_event evs[256];
  int64_t last_tick = now_ms();
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct ep *e = evs[i].data.ptr;
      if (e == &ep_listen) {
        on_accept(lfd);
        continue;
      }
      if (e == &ep_stdin) {
        on_control();
        continue;
      }
      struct conn *c = e->c;
      if (c->dead) continue;
      if (e->role == R_UP && c->st == ST_DIALING) on_up_ready(c);
      if ((evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) && e->role == R_CLIENT &&
          (c->st == ST_HELD || c->st == ST_DIALING)) {
        conn_free(c, "eof"); /* gone before the tunnel was approved */
        continue;
      }
      if (!progress(c)) conn_free(c, c->st == ST_SPLICE ? "eof" : "error");
    }
    bury();
    int64_t t = now_ms();
    if (t - last_tick >= 1000 || n == 0) {
      tick();
      bury();
      last_tick = t;
    }
  }
}
