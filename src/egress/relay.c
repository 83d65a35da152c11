/* rf-relay: the egress relay of one sandbox. Built by scripts/build-supervisor.sh into
 * build/rf-relay; src/egress/relay-process.ts starts it and speaks its control protocol.
 *
 * It listens on 127.0.0.1:PORT inside the sandbox's network namespace (the socket is made there
 * with setns, then the relay returns to its own namespace and drops to an unprivileged uid), and
 * forwards every connection to the session's unix socket, where the egress proxy decides.
 * The proxy may hand the byte path back to the relay: for a CONNECT tunnel, and for the body of a
 * plain HTTP response. The relay dials the IP the proxy checked and pinned, and moves bulk bytes
 * with splice(2), so they never cross a user-space copy. The relay interprets nothing of the bytes
 * but the end of a request head and of a response head; every decision stays with the proxy.
 *
 * Per client connection:
 *   - the first request head (up to an empty line, at most HEAD_MAX) goes to the proxy with
 *     "X-Ringfence-Relay: <id>" inserted as its first header; a head that does not end within
 *     HEAD_MAX is refused here (431), so no unmarked request reaches the proxy. Bytes that cannot
 *     start a request (no method) are forwarded unmarked: the proxy refuses them (400).
 *   - a CONNECT: the client is then not read until the proxy answers (DIAL/SPLICE/PASS/DROP).
 *   - anything else: plain two-way forwarding client <-> proxy (later requests are not marked).
 *   - the proxy writes its HTTP answers on the unix connection as always (403, 200, ...).
 * A plain request's upstream (UPSTREAM): the relay dials, then opens a NEW connection to the
 * session socket, the "leg", and writes "CONNECT leg HTTP/1.1", X-Ringfence-Relay: <id> and
 * X-Ringfence-Leg: <nonce> on it. The proxy writes the request on the leg (copied upstream as is).
 * From upstream come the response head(s) (1xx, then the final one), found by their empty line,
 * then at most AHEAD_MAX bytes of the body, while the proxy's bytes for the client are held:
 * small responses never wait for the verdict. COPY: the copy goes on (the proxy forwards the
 * body). BODY: upstream is no longer read; the proxy forwards what is already on the leg, then
 * the relay splices the rest into the client stream right after the proxy's last byte (GO).
 * After a response whose end the relay knows (a spliced body of known length, one all on the leg,
 * or a copied one the proxy declares ended with HEAD), upstream and leg stay for the connection's
 * next request to the same address: the proxy writes it on the leg (a new UPSTREAM, or the proxy
 * closing the leg, ends them).
 * A spare leg (SPARE) is one opened ahead, before any request needs it, with "X-Ringfence-Relay: 0"
 * and the proxy's nonce: an UPSTREAM naming that nonce takes it, so the proxy writes the request
 * on it at once while the relay dials, and a new connection's request does not wait for a leg to
 * be opened and accepted. The relay never reads a spare before an UPSTREAM takes it.
 *
 * Control, newline-terminated text lines. stdin (proxy -> relay):
 *   DIAL <id> <ip> <port>   connect to the pinned address (10 s timeout)
 *   SPLICE <id> <idle-ms>   the tunnel is approved: replay the bytes read since the 200 upstream,
 *                           then splice client <-> upstream; idle for idle-ms closes it
 *   PASS <id>               forward the client's bytes to the proxy again (TLS termination)
 *   DROP <id>               close the upstream connection: of a tunnel, of a plain request not
 *                           yet answered (the connection goes on), of a spliced body (and client)
 *   UPSTREAM <id> <ip> <port> <nonce>  dial for the plain request in progress, then open its leg
 *                           (or take the spare leg opened with that nonce: it is the leg now)
 *   SPARE <nonce>           open a spare leg now (UPFAIL 0 <errno> <nonce> if it cannot)
 *   BODY <id> <n>           the response's body has n bytes (-1: until upstream closes): stop
 *                           copying it to the leg, say how much is there (BODYAT)
 *   GO <id> <after> <idle-ms>  splice the rest upstream -> client right after the first <after>
 *                           bytes the proxy wrote on the client's unix connection (-1: then close
 *                           the client); idle for idle-ms cuts it
 *   COPY <id>               copy everything upstream -> leg; the proxy closes the leg when done,
 *                           or keeps it with HEAD
 *   HEAD <id>               the copied response ended: wait for the next head on the same leg
 * stdout (relay -> proxy): "READY <port>" once, then
 *   DIALED <id> <errno>     0 = connected; the client is read again (bytes go to the proxy and
 *                           are kept for the replay)
 *   BYTES <id> <in> <out>   progress of a spliced tunnel or body, every 1 MiB at least
 *   END <id> <in> <out> <why>  a spliced tunnel closed (why: eof, idle, error, drop)
 *   UPFAIL <id> <errno> <nonce>  that UPSTREAM has no leg (not dialled, or the leg closed before
 *                           it carried a request: the proxy never took it)
 *   BODYAT <id> <k> <rest>  answer to BODY: k body bytes went on the leg; rest: held (GO
 *                           awaited), next (all of it: the relay waits for the next head), copy
 *                           (all of it, more may follow: copied until the proxy closes the leg),
 *                           error (k = -1: no such response)
 *   BODYEND <id> <n> <why>  a spliced body ended after n bytes (why: done; short, idle, error,
 *                           drop: the client connection is closed, the response being cut)
 *   HEADED <id> <errno>     answer to HEAD; 0 = the leg may carry the next request
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
#define LEG_HEAD_MAX 256             /* "CONNECT leg ..." written first on a leg */
#define PIPE_WANT (256 * 1024)       /* splice pipe size asked for */
#define DIAL_TIMEOUT_MS 10000
#define VERDICT_TIMEOUT_MS 10000
#define LINGER_MS 2000 /* a refused client's bytes are read and dropped this long at most */
#define REPORT_EVERY (1024 * 1024)
#define RELAY_HEADER "X-Ringfence-Relay: "
#define NONCE_MAX 64
#define AHEAD_MAX (64 * 1024) /* body bytes copied to the leg before the proxy's verdict */
#define SPARES_MAX 4          /* spare legs open at once */

enum state {
  ST_HEAD,    /* reading the first request head */
  ST_HELD,    /* a CONNECT head sent, the client is not read until the proxy answers */
  ST_DIALING, /* DIAL received, connect() in progress */
  ST_PEEK,    /* dialled: client bytes go to the proxy and into the replay buffer */
  ST_PASS,    /* plain forwarding client <-> proxy */
  ST_SPLICE,  /* approved tunnel: client <-> upstream */
  ST_LINGER,  /* refused here (431): the answer is out, the client's bytes are dropped */
};

/* The upstream of the plain request in progress on a ST_PASS connection. */
enum upstate {
  U_NONE,
  U_DIALING, /* UPSTREAM received, connect() in progress */
  U_HEAD,    /* leg open: request leg -> upstream, response head(s) upstream -> leg */
  U_AHEAD,   /* final head sent; up to AHEAD_MAX body bytes follow it until BODY or COPY */
  U_HELD,    /* BODY: upstream is not read until GO (or DROP) */
  U_BODY,    /* GO: the body is spliced into the client stream at `body_after` */
  U_COPY,    /* COPY: upstream <-> leg copied until the proxy closes the leg (or HEAD) */
};

enum role { R_CLIENT, R_NODE, R_UP, R_LEG, R_SPARE };

struct conn;
struct ep {
  struct conn *c; /* NULL for the listener, stdin and the spares */
  int role;       /* a spare: R_SPARE + its slot */
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
  int client, node, up, leg;
  enum state st;
  enum upstate us;
  struct ep ec, en, eu, el;
  uint32_t mc, mn, mu, ml; /* epoll masks currently registered */
  struct buf head;         /* ST_HEAD: the request head so far */
  size_t head_scan;        /* where the search for the head's end resumes */
  struct buf c2n;          /* client -> proxy */
  struct buf n2c;          /* proxy -> client */
  struct buf replay;       /* tunnel bytes read since the dial (and after the head) */
  struct buf c2u;          /* replay on its way upstream */
  struct buf l2u;          /* leg -> upstream (the request the proxy framed) */
  struct buf u2l;          /* upstream -> leg (the leg's head, response heads, COPY) */
  bool client_eof, node_eof, c2n_shut;
  bool splice_ready; /* SPLICE received; upstream->client waits for the proxy's EOF */
  bool leg_eof, up_eof, up_wdead, leg_shut;
  bool leg_used; /* the proxy wrote on the leg: it took it */
  /* may have bytes to read: set by epoll, cleared by EAGAIN (a read costs a syscall) */
  bool rc, rn, ru, rl;
  struct pipedir pu, pd; /* up: client->upstream, down: upstream->client (also a BODY) */
  int64_t dial_deadline, last_activity;
  int64_t verdict_deadline; /* the proxy's leg ended before its verdict arrived */
  int64_t linger_deadline;
  int idle_ms;
  uint64_t reported;
  /* the response head being read (U_HEAD) */
  int head_state;  /* 0, 1 = after LF, 2 = after LF CR: an LF now ends the head */
  size_t head_len; /* bytes of the current head */
  char status[12]; /* "HTTP/1.1 200" */
  /* BODY */
  uint64_t node_in;   /* bytes read from the proxy on the client's unix connection */
  uint64_t body_after;
  int64_t body_left; /* -1: until upstream EOF */
  uint64_t body_count, body_reported;
  uint64_t ahead; /* body bytes copied to the leg after the final head */
  char nonce[NONCE_MAX + 1];
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

/* Legs opened ahead (SPARE), not yet taken by an UPSTREAM; fd -1 = a free slot. */
static struct spare {
  int fd;
  char nonce[NONCE_MAX + 1];
  struct ep e;
} spares[SPARES_MAX];

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
static size_t buf_pending(const struct buf *b) { return b->d ? b->len - b->off : 0; }

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
  d->pending = 0;
  d->eof = d->shut = false;
}

static bool open_pipe(struct pipedir *d) {
  if (d->p[0] >= 0) return true;
  if (pipe2(d->p, O_NONBLOCK | O_CLOEXEC) < 0) return false;
  int got = fcntl(d->p[0], F_SETPIPE_SZ, PIPE_WANT);
  if (got < 0) got = fcntl(d->p[0], F_GETPIPE_SZ);
  d->cap = got > 0 ? (size_t)got : 65536;
  return true;
}

/* Closes a plain request's upstream and its leg; the connection goes on (U_NONE). */
static void upstream_close(struct conn *c) {
  close_fd(&c->up);
  close_fd(&c->leg);
  pipe_close(&c->pd);
  buf_free(&c->l2u);
  buf_free(&c->u2l);
  c->us = U_NONE;
  c->leg_eof = c->up_eof = c->up_wdead = c->leg_shut = c->leg_used = false;
}

/* Waits for the next response head on a kept upstream and leg (the proxy writes its next
 * request to the same address on the leg). */
static void await_head(struct conn *c) {
  c->us = U_HEAD;
  c->head_len = 0;
  c->head_state = 0;
}

/* A BODY ends: reported once, with the bytes spliced. A complete one with a known length keeps
 * its upstream and leg for the connection's next request, unless either has ended. */
static void body_end(struct conn *c, const char *why) {
  say("BODYEND %llu %llu %s\n", (unsigned long long)c->id, (unsigned long long)c->body_count,
      why);
  bool keep = strcmp(why, "done") == 0 && c->body_left == 0 && !c->up_eof && c->leg >= 0 &&
              !c->leg_eof;
  if (keep) await_head(c);
  else upstream_close(c);
}

/* The UPSTREAM in progress ends without a leg the proxy took. */
static void upfail(struct conn *c, int err) {
  say("UPFAIL %llu %d %s\n", (unsigned long long)c->id, err, c->nonce);
}

static void conn_free(struct conn *c, const char *why) {
  if (c->st == ST_SPLICE) say("END %llu %llu %llu %s\n", (unsigned long long)c->id,
                              (unsigned long long)c->pd.count, (unsigned long long)c->pu.count,
                              why);
  if (c->us == U_BODY) body_end(c, strcmp(why, "eof") == 0 ? "error" : why);
  if (c->us == U_DIALING) upfail(c, ECONNABORTED);
  upstream_close(c);
  close_fd(&c->client);
  close_fd(&c->node);
  pipe_close(&c->pu);
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

/* One step of the search for the end of a head (an empty line: LF LF or LF CR LF, so CRLF CRLF
 * too). `state` carries over between calls; true when `ch` ends the head. */
static bool head_step(int *state, char ch) {
  if (ch == '\n') {
    if (*state != 0) return true;
    *state = 1;
  } else {
    *state = ch == '\r' && *state == 1 ? 2 : 0;
  }
  return false;
}

/* The length of the request head in c->head (0: not complete yet). */
static size_t request_head_end(struct conn *c) {
  int state = 0;
  /* resume a little before where the last search stopped, to catch an end across reads */
  size_t i = c->head_scan > 2 ? c->head_scan - 2 : 0;
  for (; i < c->head.len; i++)
    if (head_step(&state, c->head.d[i])) return i + 1;
  c->head_scan = c->head.len;
  return 0;
}

/* The head is complete: insert the relay header after the request line and hand it over. */
static bool send_head(struct conn *c, size_t head_end) {
  char *d = c->head.d;
  char *eol = memchr(d, '\n', head_end);
  if (!eol) return false;
  size_t line = (size_t)(eol - d) + 1;
  char hdr[64];
  int hn = snprintf(hdr, sizeof hdr, RELAY_HEADER "%llu\r\n", (unsigned long long)c->id);
  if (!buf_append(&c->c2n, d, line, C2N_CAP) ||
      !buf_append(&c->c2n, hdr, (size_t)hn, C2N_CAP) ||
      !buf_append(&c->c2n, d + line, head_end - line, C2N_CAP))
    return false;
  bool connect = head_end >= 8 && memcmp(d, "CONNECT ", 8) == 0;
  /* bytes pipelined after the head: a tunnel's first bytes (held for the replay), or the rest
   * of a plain request and its successors (forwarded) */
  if (c->head.len > head_end &&
      !buf_append(connect ? &c->replay : &c->c2n, d + head_end, c->head.len - head_end,
                  connect ? REPLAY_MAX : C2N_CAP))
    return false;
  buf_free(&c->head);
  c->st = connect ? ST_HELD : ST_PASS;
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

/* A first head too large to mark: refused here, so the proxy never sees it unmarked. Closing
 * with the client's bytes unread would reset the connection, and a reset can destroy the answer
 * before the client reads it: the answer is followed by our FIN, then whatever the client still
 * sends is read and dropped until its end (or LINGER_MS). */
static void refuse_head(struct conn *c) {
  static const char resp[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             "X-Proxy-Error: invalid_request\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n";
  (void)!send(c->client, resp, sizeof resp - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(c->client, SHUT_WR);
  close_fd(&c->node); /* the proxy sees a connection end with no request */
  buf_free(&c->head);
  c->st = ST_LINGER;
  c->linger_deadline = now_ms() + LINGER_MS;
}

/* ST_HEAD: takes the client's bytes into the head; -1 = close the connection. */
static int take_head(struct conn *c, const char *p, size_t n) {
  if (c->head.len == 0) {
    while (n > 0 && (*p == '\r' || *p == '\n')) { /* empty lines before a request: ignored */
      p++;
      n--;
    }
    if (n == 0) return 0;
    if (*p < 'A' || *p > 'Z') { /* no method can start here: the proxy answers 400 */
      to_pass(c);
      return buf_append(&c->c2n, p, n, C2N_CAP) ? 0 : -1;
    }
  }
  if (!buf_append(&c->head, p, n, HEAD_MAX)) return -1;
  size_t end = request_head_end(c);
  if (end) return send_head(c, end) ? 0 : -1;
  if (c->head.len >= HEAD_MAX) refuse_head(c);
  return 0;
}

static bool reads_client(const struct conn *c) {
  switch (c->st) {
  case ST_HEAD:
  case ST_LINGER:
    return true;
  case ST_PEEK:
    return !c->splice_ready && (!c->replay.d || buf_room(&c->replay) > 0) &&
           buf_pending(&c->c2n) < BUF_CAP;
  case ST_PASS:
    return buf_pending(&c->c2n) < BUF_CAP && !(c->node_eof && c->node < 0);
  default:
    return false;
  }
}

/* Reads what the client sent, by state; -1 = close the connection. */
static int read_client(struct conn *c) {
  char tmp[BUF_CAP];
  while (c->rc && !c->client_eof && reads_client(c)) {
    size_t want = sizeof tmp;
    if (c->st == ST_PEEK && c->replay.d && want > buf_room(&c->replay))
      want = buf_room(&c->replay);
    /* never more than the head can take: what follows it is read in the next state */
    if (c->st == ST_HEAD) want = HEAD_MAX - c->head.len;
    ssize_t n = recv(c->client, tmp, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      c->rc = false;
      return errno == EAGAIN ? 0 : -1;
    }
    if (n == 0) {
      c->client_eof = true;
      /* a client that stops sending before its head is complete or its tunnel is approved
       * is done, and so is a refused one */
      return c->st == ST_PEEK || c->st == ST_HEAD || c->st == ST_LINGER ? -1 : 0;
    }
    switch (c->st) {
    case ST_HEAD:
      if (take_head(c, tmp, (size_t)n) < 0) return -1;
      break;
    case ST_PEEK:
      if (!buf_append(&c->replay, tmp, (size_t)n, REPLAY_MAX) ||
          !buf_append(&c->c2n, tmp, (size_t)n, C2N_CAP))
        return -1;
      break;
    case ST_PASS:
      if (!buf_append(&c->c2n, tmp, (size_t)n, C2N_CAP)) return -1;
      break;
    case ST_LINGER:
      break; /* dropped */
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

/* How many more bytes of the proxy's may go to the client now (a BODY is inserted after
 * body_after of them; nothing while the proxy decides what to do with a response). */
static uint64_t node_budget(const struct conn *c) {
  if (c->us == U_AHEAD || c->us == U_HELD) return 0;
  if (c->us == U_BODY) return c->body_after - c->node_in;
  return UINT64_MAX;
}

/* A BODY may flow once every byte of the proxy's before it reached the client. */
static bool body_ready(const struct conn *c) {
  return c->us == U_BODY && c->node_in == c->body_after && buf_pending(&c->n2c) == 0;
}

/* Splices the body upstream -> client: 1 = done, 0 = in progress, -1 = failed (why set). */
static int body_pump(struct conn *c, const char **why) {
  struct pipedir *d = &c->pd;
  for (;;) {
    bool moved = false;
    if (d->pending > 0) {
      ssize_t n = splice(d->p[0], NULL, c->client, NULL, d->pending,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->pending -= (size_t)n;
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        *why = "error"; /* the client is gone */
        return -1;
      }
    }
    size_t want = d->cap - d->pending;
    if (c->body_left >= 0 && (uint64_t)c->body_left < want) want = (size_t)c->body_left;
    if (!c->up_eof && want > 0 && c->ru) {
      ssize_t n = splice(c->up, NULL, d->p[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->pending += (size_t)n;
        c->body_count += (uint64_t)n;
        if (c->body_left > 0) c->body_left -= n;
        moved = true;
      } else if (n == 0) {
        c->up_eof = true;
      } else if (errno == EAGAIN) {
        c->ru = false;
      } else if (errno != EINTR) {
        c->up_eof = true; /* reset by upstream: the body ends here */
      }
    }
    if (moved) c->last_activity = now_ms();
    if (c->body_count - c->body_reported >= REPORT_EVERY) {
      say("BYTES %llu %llu 0\n", (unsigned long long)c->id, (unsigned long long)c->body_count);
      c->body_reported = c->body_count;
    }
    bool all_in = c->body_left == 0 || (c->body_left < 0 && c->up_eof);
    if (all_in && d->pending == 0) return 1;
    if (c->up_eof && !all_in) {
      *why = "short"; /* upstream ended before the length it announced */
      return -1;
    }
    if (!moved) return 0;
  }
}

/* proxy -> client, with a body inserted at its place; false = connection done. */
static bool node_to_client(struct conn *c) {
  for (;;) {
    if (buf_pending(&c->n2c) > 0) {
      if (flush(&c->n2c, c->client) < 0) return false;
      if (buf_pending(&c->n2c) > 0) return true;
    }
    if (body_ready(c)) {
      const char *why = "done";
      int r = body_pump(c, &why);
      if (r == 0) return true;
      bool until_eof = c->body_left < 0;
      body_end(c, why);
      /* a cut body, or one delimited by the close: the client connection ends with it */
      if (r < 0 || until_eof) return false;
      continue;
    }
    uint64_t budget = node_budget(c);
    if (c->node < 0 || c->node_eof || budget == 0 || !c->rn) return true;
    if (!buf_reserve(&c->n2c, BUF_CAP)) return false;
    size_t want = budget < c->n2c.cap ? (size_t)budget : c->n2c.cap;
    ssize_t n = recv(c->node, c->n2c.d, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        c->rn = false;
        return true;
      }
      c->node_eof = true; /* reset by the proxy: treat as its end */
      return true;
    }
    if (n == 0) {
      c->node_eof = true;
      return true;
    }
    c->n2c.len = (size_t)n;
    c->node_in += (uint64_t)n;
  }
}

/* Reads the response head(s) upstream -> leg without taking a byte of the body: peeks, then
 * consumes up to the end of the head. 1xx heads (not 101) are passed on and the next one read.
 * 1 = the final head is out, 0 = more to come, -1 = no valid head (upstream ended, too large). */
static int read_response_head(struct conn *c) {
  for (;;) {
    if (buf_pending(&c->u2l) > 0 || !c->ru) return 0; /* one head at a time on its way */
    if (!buf_reserve(&c->u2l, HEAD_MAX)) return -1;
    c->u2l.len = c->u2l.off = 0;
    size_t room = HEAD_MAX - c->head_len;
    if (room == 0) return -1;
    ssize_t n = recv(c->up, c->u2l.d, room, MSG_PEEK);
    if (n < 0) {
      if (errno == EINTR) continue;
      c->ru = false;
      return errno == EAGAIN ? 0 : -1;
    }
    if (n == 0) return -1;
    size_t take = (size_t)n;
    bool end = false;
    for (size_t i = 0; i < (size_t)n; i++) {
      if (c->head_len + i < sizeof c->status) c->status[c->head_len + i] = c->u2l.d[i];
      if (head_step(&c->head_state, c->u2l.d[i])) {
        take = i + 1;
        end = true;
        break;
      }
    }
    ssize_t got = recv(c->up, c->u2l.d, take, 0);
    if (got != (ssize_t)take) return -1;
    c->u2l.len = take;
    c->head_len += take;
    if (!end) continue;
    bool informational = c->head_len >= sizeof c->status && c->status[9] == '1' &&
                         memcmp(c->status + 9, "101", 3) != 0;
    c->head_len = 0;
    c->head_state = 0;
    if (!informational) return 1;
  }
}

/* Reads what fd has into the empty buffer b (allocated with cap, want bytes at most): >0 read,
 * 0 = nothing now, -1 = EOF or error. */
static ssize_t fill(struct buf *b, int fd, size_t cap, size_t want) {
  if (!buf_reserve(b, cap)) return -1;
  b->off = b->len = 0;
  if (want > b->cap) want = b->cap;
  for (;;) {
    ssize_t n = recv(fd, b->d, want, 0);
    if (n > 0) b->len = (size_t)n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    return n > 0 ? n : -1;
  }
}

/* upstream -> leg: response heads, then (until the proxy says otherwise) the body; false = no
 * valid head came (upstream ended, or a head too large). */
static bool upstream_to_leg(struct conn *c) {
  while (c->leg >= 0) {
    if (buf_pending(&c->u2l) > 0) {
      if (flush(&c->u2l, c->leg) < 0) {
        c->leg_eof = true; /* the proxy is gone from this leg */
        return true;
      }
      if (buf_pending(&c->u2l) > 0) return true;
    }
    if (c->us == U_HEAD) {
      int r = read_response_head(c);
      if (r < 0) return false;
      if (r == 1) {
        c->us = U_AHEAD;
        c->ahead = 0;
      }
      if (buf_pending(&c->u2l) == 0) return true; /* nothing read: wait for upstream */
      continue;
    }
    bool copying = c->us == U_COPY || (c->us == U_AHEAD && c->ahead < AHEAD_MAX);
    if (!copying || c->up_eof || !c->ru) break;
    size_t want = c->us == U_AHEAD ? AHEAD_MAX - c->ahead : BUF_CAP;
    ssize_t n = fill(&c->u2l, c->up, BUF_CAP, want);
    if (n < 0) c->up_eof = true;
    else if (n == 0) c->ru = false;
    else if (c->us == U_AHEAD) c->ahead += (uint64_t)n;
    if (n <= 0) break;
  }
  /* upstream's end reaches the proxy as the leg's (a body delimited by the close) */
  bool passing = c->us == U_COPY || c->us == U_AHEAD;
  if (passing && c->up_eof && buf_pending(&c->u2l) == 0 && c->leg >= 0 && !c->leg_shut) {
    shutdown(c->leg, SHUT_WR);
    c->leg_shut = true;
  }
  return true;
}

/* The plain request's upstream and leg; false = the whole connection is done. */
static bool upstream_io(struct conn *c) {
  if (c->us == U_NONE || c->us == U_DIALING) return true;
  /* leg -> upstream: the request (head and body) as the proxy framed it */
  while (c->leg >= 0 && !c->leg_eof) {
    if (buf_pending(&c->l2u) > 0) {
      if (flush(&c->l2u, c->up) < 0) {
        c->up_wdead = true; /* upstream stopped reading; its answer may still come */
        buf_free(&c->l2u);
      }
      if (buf_pending(&c->l2u) > 0) break;
    }
    if (!c->rl) break;
    ssize_t n = fill(&c->l2u, c->leg, BUF_CAP, BUF_CAP);
    if (n == 0) {
      c->rl = false;
      break;
    }
    if (n < 0) c->leg_eof = true;
    else c->leg_used = true;
    if (n > 0 && c->up_wdead) buf_free(&c->l2u); /* read on, to notice the leg's end */
  }
  if (!upstream_to_leg(c)) {
    upstream_close(c); /* no valid head: the proxy sees its leg close (502) */
    return true;
  }
  if (c->leg_eof && c->leg >= 0) {
    if (c->us == U_BODY) {
      close_fd(&c->leg); /* the body goes on; the upstream is not kept after it */
    } else if (c->us == U_AHEAD || c->us == U_HELD) {
      /* BODY and the leg's end race (stdin vs socket): wait for the verdict */
      close_fd(&c->leg);
      c->verdict_deadline = now_ms() + VERDICT_TIMEOUT_MS;
    } else {
      /* closed before it carried a request: refused by the proxy (its connection limit, or a
       * waiting request that gave up), which must not wait for it */
      if (c->us == U_HEAD && !c->leg_used) upfail(c, ECONNRESET);
      upstream_close(c); /* the proxy is done with this request (or gave it up) */
    }
  }
  return true;
}

/* The CONNECT tunnel's splice; false = done. */
static bool tunnel_io(struct conn *c) {
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
  return true;
}

static void set_interest(struct conn *c) {
  uint32_t wc = 0, wn = 0, wu = 0, wl = 0;
  if (c->st == ST_SPLICE) {
    if (!c->c2u.d && !c->pu.eof && c->pu.pending < c->pu.cap) wc |= EPOLLIN;
    if (c->pd.pending > 0) wc |= EPOLLOUT;
    if (!c->pd.eof && c->pd.pending < c->pd.cap) wu |= EPOLLIN;
    if (c->c2u.d || c->pu.pending > 0) wu |= EPOLLOUT;
  } else {
    if (!c->client_eof && reads_client(c)) wc |= EPOLLIN;
    if (buf_pending(&c->n2c) > 0 || (c->us == U_BODY && c->pd.pending > 0)) wc |= EPOLLOUT;
    if (c->node >= 0) {
      if (!c->node_eof && buf_pending(&c->n2c) == 0 && node_budget(c) > 0) wn |= EPOLLIN;
      if (buf_pending(&c->c2n) > 0 && !c->splice_ready) wn |= EPOLLOUT;
    }
    if ((c->st == ST_DIALING || c->us == U_DIALING) && c->up >= 0) wu |= EPOLLOUT;
    if (c->up >= 0 && buf_pending(&c->l2u) > 0) wu |= EPOLLOUT;
    if (c->us == U_HEAD && buf_pending(&c->u2l) == 0) wu |= EPOLLIN;
    bool copying = c->us == U_COPY || (c->us == U_AHEAD && c->ahead < AHEAD_MAX);
    if (copying && !c->up_eof && buf_pending(&c->u2l) == 0) wu |= EPOLLIN;
    if (body_ready(c) && !c->up_eof && c->pd.pending < c->pd.cap) wu |= EPOLLIN;
    /* a spare leg taken for a dial in progress is not watched yet (a request that is given up
     * meanwhile comes with DROP) */
    if (c->leg >= 0 && c->us != U_DIALING) {
      if (!c->leg_eof && buf_pending(&c->l2u) == 0) wl |= EPOLLIN;
      if (buf_pending(&c->u2l) > 0) wl |= EPOLLOUT;
    }
  }
  /* the client's hang-up must be noticed while it is not read (held, dialling) */
  if (c->st == ST_HELD || c->st == ST_DIALING) wc |= EPOLLRDHUP;
  set_mask(c->client, &c->ec, &c->mc, wc);
  if (c->node >= 0) set_mask(c->node, &c->en, &c->mn, wn);
  if (c->up >= 0) set_mask(c->up, &c->eu, &c->mu, wu);
  if (c->leg >= 0 && c->us != U_DIALING) set_mask(c->leg, &c->el, &c->ml, wl);
}

/* Moves every byte that can move now and sets the epoll interest; false = connection done. */
static bool progress(struct conn *c) {
  if (c->st != ST_SPLICE && c->st != ST_DIALING) {
    if (read_client(c) < 0) return false;
  }
  if (c->st == ST_LINGER) {
    set_interest(c);
    return true;
  }
  /* client -> proxy */
  if (c->node >= 0 && c->c2n.d && !c->splice_ready) {
    if (flush(&c->c2n, c->node) < 0) {
      if (c->us != U_BODY) return false;
      c->node_eof = true; /* the proxy closed its side mid-body: the body still completes */
      buf_free(&c->c2n);
    }
  }
  if (c->node >= 0 && c->client_eof && !c->c2n_shut && c->c2n.len == c->c2n.off &&
      c->st == ST_PASS) {
    shutdown(c->node, SHUT_WR);
    c->c2n_shut = true;
  }
  /* proxy -> client (and a BODY at its place) */
  if (c->st != ST_SPLICE && !node_to_client(c)) return false;
  if (!upstream_io(c)) return false;
  bool n2c_empty = buf_pending(&c->n2c) == 0;
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
    } else if (c->us == U_BODY) {
      /* its bytes up to the body's place all arrived? then the body completes first */
      if (c->node_in < c->body_after) return false;
    } else if (!awaiting) {
      return false; /* the proxy ended the connection: refused, or done */
    }
  }
  if (c->st == ST_SPLICE && !tunnel_io(c)) return false;
  set_interest(c);
  return true;
}

/* A new non-blocking connection to the session socket (a client's, or a leg); -1 and *err. */
static int connect_session(int *err) {
  *err = 0;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, socket_path, sizeof sa.sun_path - 1);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
  *err = errno;
  if (fd >= 0) close(fd);
  return -1;
}

static void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int err;
    int node = connect_session(&err);
    if (node < 0) {
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
    c->up = c->leg = -1;
    c->rc = c->rn = true;
    c->pu.p[0] = c->pu.p[1] = c->pd.p[0] = c->pd.p[1] = -1;
    c->st = ST_HEAD;
    c->us = U_NONE;
    c->ec = (struct ep){c, R_CLIENT};
    c->en = (struct ep){c, R_NODE};
    c->eu = (struct ep){c, R_UP};
    c->el = (struct ep){c, R_LEG};
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    add_fd(fd, &c->ec, &c->mc);
    add_fd(node, &c->en, &c->mn);
    if (!progress(c)) conn_free(c, "error");
  }
}

/* ip:port into a socket address; false when `ip` is not an address. */
static bool parse_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (port <= 0 || port > 65535) return false;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
  } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof *s6;
  } else {
    return false;
  }
  return true;
}

/* Starts a non-blocking connect of c->up; 0 = connected, EINPROGRESS, or the errno. */
static int dial(struct conn *c, const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(ip, port, &ss, &len)) return EINVAL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  c->up = fd;
  c->ru = true;
  add_fd(fd, &c->eu, &c->mu);
  if (connect(fd, (struct sockaddr *)&ss, len) == 0) return 0;
  return errno;
}

static int dial_result(int fd) {
  int err = 0;
  socklen_t l = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
  return err;
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
  if (!c || c->st != ST_HELD) {
    say("DIALED %llu %d\n", (unsigned long long)id, c ? EINVAL : ECONNABORTED);
    return;
  }
  int err = dial(c, ip, port);
  if (err == EINPROGRESS) {
    c->st = ST_DIALING;
    c->dial_deadline = now_ms() + DIAL_TIMEOUT_MS;
  } else {
    dial_done(c, err);
  }
  if (!progress(c)) conn_free(c, "error");
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
  if (c->st == ST_SPLICE || c->us == U_BODY) {
    conn_free(c, "drop");
    return;
  }
  if (c->st == ST_PASS) {
    /* a plain request given up before its body: the connection goes on */
    if (c->us == U_DIALING) upfail(c, ECONNABORTED);
    upstream_close(c);
    if (!progress(c)) conn_free(c, "drop");
    return;
  }
  close_fd(&c->up);
  buf_free(&c->replay);
  c->st = ST_HELD;
  c->splice_ready = false;
  if (!progress(c)) conn_free(c, "drop");
}

static bool valid_nonce(const char *nonce) {
  size_t n = strlen(nonce);
  return n > 0 && n <= NONCE_MAX && strspn(nonce, "0123456789abcdef") == n;
}

/* A leg to the session socket, and the head that opens it in `head`. */
static int open_leg(uint64_t id, const char *nonce, char *head, int *head_len, int *err) {
  *head_len = snprintf(head, LEG_HEAD_MAX,
                       "CONNECT leg HTTP/1.1\r\n" RELAY_HEADER "%llu\r\nX-Ringfence-Leg: %s\r\n\r\n",
                       (unsigned long long)id, nonce);
  if (*head_len < 0 || *head_len >= LEG_HEAD_MAX) {
    *err = ENOMEM;
    return -1;
  }
  return connect_session(err);
}

/* SPARE: a leg opened now, its head written; only its hang-up is watched until it is taken. */
static void cmd_spare(const char *nonce) {
  if (!valid_nonce(nonce)) return;
  struct spare *s = NULL;
  for (int i = 0; i < SPARES_MAX && !s; i++)
    if (spares[i].fd < 0) s = &spares[i];
  int err = EBUSY, hn = 0;
  char head[LEG_HEAD_MAX];
  int fd = s ? open_leg(0, nonce, head, &hn, &err) : -1;
  /* a fresh unix connection takes a head this small whole */
  if (fd >= 0 && write(fd, head, (size_t)hn) != hn) {
    err = errno ? errno : EIO;
    close(fd);
    fd = -1;
  }
  if (fd < 0) {
    say("UPFAIL 0 %d %s\n", err, nonce);
    return;
  }
  s->fd = fd;
  strcpy(s->nonce, nonce);
  struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = &s->e};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl spare");
}

/* The spare leg opened with `nonce`, taken out of the spares (-1: none). */
static int spare_take(const char *nonce) {
  for (int i = 0; i < SPARES_MAX; i++) {
    if (spares[i].fd < 0 || strcmp(spares[i].nonce, nonce) != 0) continue;
    int fd = spares[i].fd;
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    spares[i].fd = -1;
    return fd;
  }
  return -1;
}

/* A spare leg's hang-up: the proxy closed it (its idle timeout, the session's end). Checked
 * here, as the event may be older than the slot's present leg. */
static void spare_hangup(int slot) {
  char b;
  int fd = spares[slot].fd;
  if (fd < 0) return;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  /* nothing to read and no end: an old event. Bytes on a leg not taken: not the proxy's way */
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  close_fd(&spares[slot].fd);
}

/* The upstream of a plain request is connected: open its leg to the proxy (unless a spare leg
 * is the leg already). */
static void upstream_dialled(struct conn *c, int err) {
  int hn = 0;
  char head[LEG_HEAD_MAX];
  if (!err && c->leg < 0) {
    int leg = open_leg(c->id, c->nonce, head, &hn, &err);
    if (!err && !buf_append(&c->u2l, head, (size_t)hn, HEAD_MAX)) err = ENOMEM;
    if (err && leg >= 0) close(leg);
    if (!err) c->leg = leg;
  }
  if (err) {
    upfail(c, err);
    upstream_close(c); /* a spare leg closes with it: the proxy's request ends there */
    return;
  }
  add_fd(c->leg, &c->el, &c->ml);
  int one = 1;
  setsockopt(c->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->rl = true;
  c->us = U_HEAD;
  c->head_len = 0;
  c->head_state = 0;
}

static void cmd_upstream(uint64_t id, const char *ip, int port, const char *nonce) {
  struct conn *c = find(id);
  /* a spare leg named here is this request's leg, or closed with the request's failure */
  int spare = valid_nonce(nonce) ? spare_take(nonce) : -1;
  int err = 0;
  /* The proxy asks only once the previous response is answered: an upstream kept for the next
   * request (or a copied one whose leg has not been seen closing yet) is over. */
  if (c && (c->us == U_HEAD || c->us == U_COPY)) upstream_close(c);
  if (!c) err = ECONNABORTED;
  else if (c->st != ST_PASS || c->node < 0 || c->node_eof) err = EINVAL;
  else if (c->us != U_NONE) err = EBUSY;
  else if (!valid_nonce(nonce)) err = EINVAL;
  if (err) {
    if (spare >= 0) close(spare);
    say("UPFAIL %llu %d %s\n", (unsigned long long)id, err, err == EINVAL ? "-" : nonce);
    return;
  }
  strcpy(c->nonce, nonce);
  c->leg = spare; /* watched and read once the dial is done */
  err = dial(c, ip, port);
  if (err == EINPROGRESS) {
    c->us = U_DIALING;
    c->dial_deadline = now_ms() + DIAL_TIMEOUT_MS;
  } else {
    upstream_dialled(c, err);
  }
  if (!progress(c)) conn_free(c, "error");
}

/* BODY: the proxy will have the relay splice this response's body of n bytes (-1: until
 * upstream closes). Upstream is no longer read; the bytes already copied to the leg are told
 * (BODYAT), the proxy forwards those, then says where the rest goes (GO). A body that is all on
 * the leg already ends here. */
static void cmd_body(uint64_t id, long long n) {
  struct conn *c = find(id);
  if (!c || c->us != U_AHEAD || n < -1) {
    say("BODYAT %llu -1 error\n", (unsigned long long)id); /* no such response waits */
    if (c) conn_free(c, "error");
    return;
  }
  const char *rest;
  bool all_sent = n >= 0 ? c->ahead >= (uint64_t)n : c->up_eof;
  if (!all_sent) {
    c->us = U_HELD;
    c->body_left = n < 0 ? -1 : n - (int64_t)c->ahead;
    rest = "held";
  } else if (n >= 0 && c->ahead == (uint64_t)n && !c->up_eof) {
    await_head(c); /* the next request may follow on the leg */
    rest = "next";
  } else {
    c->us = U_COPY; /* the proxy reads what is there and closes the leg */
    rest = "copy";
  }
  say("BODYAT %llu %llu %s\n", (unsigned long long)id, (unsigned long long)c->ahead, rest);
  if (!progress(c)) conn_free(c, "error");
}

/* GO: splice the rest of the held body right after the first `after` bytes the proxy wrote. */
static void cmd_go(uint64_t id, unsigned long long after, int idle_ms) {
  struct conn *c = find(id);
  if (!c || c->us != U_HELD || after < c->node_in) {
    /* the proxy's view of the stream is wrong: nothing can be inserted safely */
    say("BODYEND %llu 0 error\n", (unsigned long long)id);
    if (c) conn_free(c, "error");
    return;
  }
  /* the body never goes on the leg; the leg stays for the next request (or the proxy ends it) */
  c->us = U_BODY;
  c->rn = true; /* the proxy wrote its bytes before this line: read them now, not an epoll later */
  c->body_after = after;
  c->body_count = c->body_reported = 0;
  c->idle_ms = idle_ms > 0 ? idle_ms : 0;
  c->last_activity = now_ms();
  if (!open_pipe(&c->pd)) {
    conn_free(c, "error");
    return;
  }
  if (!progress(c)) conn_free(c, "eof");
}

static void cmd_copy(uint64_t id) {
  struct conn *c = find(id);
  if (!c || c->us != U_AHEAD) return;
  if (c->leg < 0) upstream_close(c); /* the proxy already gave the request up */
  else c->us = U_COPY;
  if (!progress(c)) conn_free(c, "error");
}

/* A copied response ended (the proxy parsed its end): wait for the next head on the same
 * upstream and leg. Acknowledged, so that the proxy writes its next request only after this. */
static void cmd_head(uint64_t id) {
  struct conn *c = find(id);
  int err = 0;
  if (!c || c->us != U_COPY) err = EINVAL;
  else if (c->up_eof || c->leg < 0 || c->leg_eof || buf_pending(&c->u2l) > 0) err = EPIPE;
  if (err && c && c->us == U_COPY) upstream_close(c);
  if (!err) await_head(c);
  say("HEADED %llu %d\n", (unsigned long long)id, err);
  if (c && !progress(c)) conn_free(c, "error");
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
      unsigned long long id, after;
      long long len;
      char ip[64], nonce[NONCE_MAX + 2];
      int a, b;
      if (sscanf(start, "DIAL %llu %63s %d", &id, ip, &a) == 3) cmd_dial(id, ip, a);
      else if (sscanf(start, "SPLICE %llu %d", &id, &a) == 2) cmd_splice(id, a);
      else if (sscanf(start, "PASS %llu", &id) == 1) cmd_pass(id);
      else if (sscanf(start, "DROP %llu", &id) == 1) cmd_drop(id);
      else if (sscanf(start, "UPSTREAM %llu %63s %d %65s", &id, ip, &a, nonce) == 4)
        cmd_upstream(id, ip, a, nonce);
      else if (sscanf(start, "SPARE %65s", nonce) == 1) cmd_spare(nonce);
      else if (sscanf(start, "BODY %llu %lld", &id, &len) == 2) cmd_body(id, len);
      else if (sscanf(start, "GO %llu %llu %d", &id, &after, &b) == 3) cmd_go(id, after, b);
      else if (sscanf(start, "COPY %llu", &id) == 1) cmd_copy(id);
      else if (sscanf(start, "HEAD %llu", &id) == 1) cmd_head(id);
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
    } else if (c->us == U_DIALING && t >= c->dial_deadline) {
      upstream_dialled(c, ETIMEDOUT);
      if (!progress(c)) conn_free(c, "error");
    } else if (c->node < 0 && c->st == ST_PEEK && !c->splice_ready &&
               t >= c->verdict_deadline) {
      conn_free(c, "error");
    } else if ((c->us == U_AHEAD || c->us == U_HELD) && c->leg < 0 &&
               t >= c->verdict_deadline) {
      upstream_close(c); /* the proxy closed the leg and never said what to do */
      if (!progress(c)) conn_free(c, "error");
    } else if (c->st == ST_LINGER && t >= c->linger_deadline) {
      conn_free(c, "linger");
    } else if ((c->st == ST_SPLICE || c->us == U_BODY) && c->idle_ms > 0 &&
               t - c->last_activity >= c->idle_ms) {
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
  for (int i = 0; i < SPARES_MAX; i++) spares[i] = (struct spare){-1, "", {NULL, R_SPARE + i}};
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
      if (e->role >= R_SPARE) {
        spare_hangup(e->role - R_SPARE);
        continue;
      }
      struct conn *c = e->c;
      if (c->dead) continue;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        bool *ready[] = {&c->rc, &c->rn, &c->ru, &c->rl};
        *ready[e->role] = true;
      }
      if (e->role == R_UP && c->st == ST_DIALING) {
        int err = dial_result(c->up);
        if (err != EINPROGRESS) dial_done(c, err);
      } else if (e->role == R_UP && c->us == U_DIALING) {
        int err = dial_result(c->up);
        if (err != EINPROGRESS) upstream_dialled(c, err);
      }
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
