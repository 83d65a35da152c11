/* ringfence in-sandbox supervisor, C version: speaks exactly the protocol of supervisor.py (the
 * specification) without the ~10-15 ms interpreter start-up. Built by scripts/build-supervisor.sh.
 *
 * Protocol: newline-delimited JSON on stdin (requests) and stdout (events); bytes are base64.
 *   {"op":"exec","id":N,"argv":[...],"env":{...},"cwd":"/workspace","stdin":true|false}
 *   {"op":"stdin","id":N,"data":B64}  {"op":"stdin_end","id":N}  {"op":"kill","id":N,"sig":9}
 *   {"op":"read","id":N,"path":P,"max":BYTES}  {"op":"write","id":N,"path":P,"data":B64}
 *   {"op":"list","id":N,"path":P}  {"op":"ping","id":N}
 * Events: {"ev":"ready","pid":P} {"ev":"started","id":N,"pid":P}
 *         {"ev":"out","id":N,"fd":1|2,"data":B64} {"ev":"exit","id":N,"code":C,"signal":S|null}
 *         {"ev":"result","id":N,"ok":true,...} {"ev":"result","id":N,"ok":false,"error":M,"errno":E}
 * It runs with the sandbox's uid, no capabilities and the seccomp filter; it marks itself
 * non-dumpable so other sandbox processes cannot open its pipes through /proc. Like the Python
 * interpreter it ignores SIGPIPE and SIGXFSZ (children inherit the SIGXFSZ disposition, SIGPIPE is
 * reset), so a write over RLIMIT_FSIZE fails with EFBIG instead of killing the writer.
 *
 * Exits are watched through a pidfd per exec. Where pidfd_open is missing (gVisor's runsc before
 * 2023 returns ENOSYS) a SIGCHLD self-pipe stands in: the handler writes a byte, the poll loop
 * reaps each exec's child with waitpid(WNOHANG), so the protocol and its events stay the same.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_TAG "RINGFENCE_EXEC_ID"
#define WORKSPACE "/workspace"
#define SYS_PIDFD_OPEN 434
#define SYS_CLOSE_RANGE 436
#define READ_CHUNK 65536
#define MAX_JSON_DEPTH 64
#define MAX_LINK_DEPTH 200
#define FORK_RETRIES 50
#define FORK_RETRY_NS 20000000L

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("rf-supervisor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  _exit(1);
}

/* ---------------------------------------------------------------- growable byte buffer */

typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) die("out of memory");
  b->p = p;
  b->cap = cap;
}
static void buf_put(buf_t *b, const void *d, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }
static void buf_putc(buf_t *b, char c) { buf_put(b, &c, 1); }
static void buf_int(buf_t *b, long long v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", v);
  buf_put(b, tmp, (size_t)n);
}
static void buf_consume(buf_t *b, size_t n) {
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
  if (b->p) b->p[b->len] = 0;
}
static void buf_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(buf_t *out, const unsigned char *d, size_t n) {
  buf_reserve(out, (n + 2) / 3 * 4);
  char *o = out->p + out->len;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    *o++ = B64[v >> 18];
    *o++ = B64[(v >> 12) & 63];
    *o++ = B64[(v >> 6) & 63];
    *o++ = B64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
    *o++ = B64[v >> 18];
    *o++ = B64[(v >> 12) & 63];
    *o++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  out->len = (size_t)(o - out->p);
  out->p[out->len] = 0;
}

/* Lenient like Python's b64decode(validate=False): characters outside the alphabet are skipped. */
static void b64_decode(buf_t *out, const char *s, size_t n) {
  uint32_t acc = 0;
  int bits = 0;
  buf_reserve(out, n / 4 * 3 + 3);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else continue;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->p[out->len++] = (char)((acc >> bits) & 0xff);
    }
  }
  out->p[out->len] = 0;
}

/* ---------------------------------------------------------------- JSON input */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
  jtype t;
  int b;
  double n;
  char *s; /* J_STR: decoded bytes, NUL-terminated; slen may be larger if it held \u0000 */
  size_t slen;
  struct jval *items; /* J_ARR / J_OBJ values */
  char **keys;        /* J_OBJ keys */
  size_t count;
} jval;

typedef struct {
  const char *p, *end;
  int depth;
} jparser;

static void jfree(jval *v) {
  free(v->s);
  for (size_t i = 0; i < v->count; i++) {
    jfree(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  memset(v, 0, sizeof *v);
}

static void jws(jparser *jp) {
  while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
    jp->p++;
}

static void utf8_put(buf_t *b, uint32_t cp) {
  char o[4];
  size_t n;
  if (cp < 0x80) {
    o[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 63));
    n = 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 63));
    o[2] = (char)(0x80 | (cp & 63));
    n = 3;
  } else {
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63));
    o[3] = (char)(0x80 | (cp & 63));
    n = 4;
  }
  buf_put(b, o, n);
}

static int jhex4(jparser *jp, uint32_t *out) {
  if (jp->end - jp->p < 4) return -1;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = jp->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return -1;
  }
  jp->p += 4;
  *out = v;
  return 0;
}

/* Parses a string at jp->p (which points at the opening quote). \uXXXX becomes UTF-8, surrogate
 * pairs included; a lone \udc80-\udcff becomes the byte it stands for (Python's surrogateescape). */
static int jstring(jparser *jp, char **out, size_t *outlen) {
  buf_t b = {0};
  jp->p++;
  buf_reserve(&b, 16);
  while (jp->p < jp->end) {
    unsigned char c = (unsigned char)*jp->p++;
    if (c == '"') {
      *out = b.p;
      *outlen = b.len;
      return 0;
    }
    if (c < 0x20) break;
    if (c != '\\') {
      buf_putc(&b, (char)c);
      continue;
    }
    if (jp->p >= jp->end) break;
    char e = *jp->p++;
    switch (e) {
      case '"': buf_putc(&b, '"'); break;
      case '\\': buf_putc(&b, '\\'); break;
      case '/': buf_putc(&b, '/'); break;
      case 'b': buf_putc(&b, '\b'); break;
      case 'f': buf_putc(&b, '\f'); break;
      case 'n': buf_putc(&b, '\n'); break;
      case 'r': buf_putc(&b, '\r'); break;
      case 't': buf_putc(&b, '\t'); break;
      case 'u': {
        uint32_t cp;
        if (jhex4(jp, &cp)) goto fail;
        if (cp >= 0xd800 && cp <= 0xdbff && jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
            jp->p[1] == 'u') {
          const char *save = jp->p;
          uint32_t lo;
          jp->p += 2;
          if (jhex4(jp, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
            utf8_put(&b, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
            break;
          }
          jp->p = save;
        }
        if (cp >= 0xdc80 && cp <= 0xdcff) buf_putc(&b, (char)(cp & 0xff));
        else utf8_put(&b, cp);
        break;
      }
      default: goto fail;
    }
  }
fail:
  buf_free(&b);
  return -1;
}

static int jvalue(jparser *jp, jval *v);

static int jcontainer(jparser *jp, jval *v, int obj) {
  char close = obj ? '}' : ']';
  size_t cap = 0;
  v->t = obj ? J_OBJ : J_ARR;
  if (++jp->depth > MAX_JSON_DEPTH) return -1;
  jp->p++;
  jws(jp);
  if (jp->p < jp->end && *jp->p == close) {
    jp->p++;
    jp->depth--;
    return 0;
  }
  for (;;) {
    if (v->count == cap) {
      cap = cap ? cap * 2 : 8;
      jval *items = realloc(v->items, cap * sizeof *items);
      if (!items) die("out of memory");
      v->items = items;
      if (obj) {
        char **keys = realloc(v->keys, cap * sizeof *keys);
        if (!keys) die("out of memory");
        v->keys = keys;
      }
    }
    jws(jp);
    if (obj) {
      size_t klen;
      if (jp->p >= jp->end || *jp->p != '"') return -1;
      if (jstring(jp, &v->keys[v->count], &klen)) return -1;
      memset(&v->items[v->count], 0, sizeof(jval));
      v->count++;
      jws(jp);
      if (jp->p >= jp->end || *jp->p != ':') return -1;
      jp->p++;
      if (jvalue(jp, &v->items[v->count - 1])) return -1;
    } else {
      memset(&v->items[v->count], 0, sizeof(jval));
      v->count++;
      if (jvalue(jp, &v->items[v->count - 1])) return -1;
    }
    jws(jp);
    if (jp->p >= jp->end) return -1;
    if (*jp->p == ',') {
      jp->p++;
      continue;
    }
    if (*jp->p != close) return -1;
    jp->p++;
    jp->depth--;
    return 0;
  }
}

static int jvalue(jparser *jp, jval *v) {
  jws(jp);
  if (jp->p >= jp->end) return -1;
  char c = *jp->p;
  if (c == '{' || c == '[') return jcontainer(jp, v, c == '{');
  if (c == '"') {
    v->t = J_STR;
    return jstring(jp, &v->s, &v->slen);
  }
  if (jp->end - jp->p >= 4 && memcmp(jp->p, "true", 4) == 0) {
    v->t = J_BOOL;
    v->b = 1;
    jp->p += 4;
    return 0;
  }
  if (jp->end - jp->p >= 5 && memcmp(jp->p, "false", 5) == 0) {
    v->t = J_BOOL;
    jp->p += 5;
    return 0;
  }
  if (jp->end - jp->p >= 4 && memcmp(jp->p, "null", 4) == 0) {
    v->t = J_NULL;
    jp->p += 4;
    return 0;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char tmp[64];
    size_t n = 0;
    while (jp->p + n < jp->end && n < sizeof tmp - 1 &&
           strchr("+-.eE0123456789", jp->p[n]) != NULL)
      n++;
    memcpy(tmp, jp->p, n);
    tmp[n] = 0;
    char *endp;
    v->t = J_NUM;
    v->n = strtod(tmp, &endp);
    if (endp != tmp + n) return -1;
    jp->p += n;
    return 0;
  }
  return -1;
}

static jval *jget(jval *obj, const char *key) {
  if (!obj || obj->t != J_OBJ) return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

/* A string field; NULL when absent, null or not a string, or when it holds a NUL byte. */
static const char *jstr(jval *obj, const char *key) {
  jval *v = jget(obj, key);
  if (!v || v->t != J_STR || strlen(v->s) != v->slen) return NULL;
  return v->s;
}

static long long jnum(jval *obj, const char *key, long long dflt) {
  jval *v = jget(obj, key);
  if (!v || v->t != J_NUM) return dflt;
  if (v->n >= 9.2e18) return LLONG_MAX;
  if (v->n <= -9.2e18) return LLONG_MIN;
  return (long long)v->n;
}

/* ---------------------------------------------------------------- JSON output */

static buf_t out_line;

/* Quotes bytes as a JSON string: ", \ and control characters are escaped, valid UTF-8 passes
 * through, every byte of an invalid sequence becomes \udcXX (what Python's surrogateescape +
 * json.dumps emits for the same name). */
static void json_str(buf_t *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  buf_putc(b, '"');
  size_t i = 0;
  while (i < n) {
    unsigned char c = u[i];
    if (c < 0x80) {
      if (c == '"') buf_puts(b, "\\\"");
      else if (c == '\\') buf_puts(b, "\\\\");
      else if (c == '\n') buf_puts(b, "\\n");
      else if (c == '\r') buf_puts(b, "\\r");
      else if (c == '\t') buf_puts(b, "\\t");
      else if (c < 0x20) {
        char tmp[8];
        snprintf(tmp, sizeof tmp, "\\u%04x", c);
        buf_puts(b, tmp);
      } else buf_putc(b, (char)c);
      i++;
      continue;
    }
    size_t len = 0;
    uint32_t min = 0, cp = 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000, cp = c & 0x07;
    int ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) {
      if ((u[i + k] & 0xc0) != 0x80) ok = 0;
      else cp = (cp << 6) | (u[i + k] & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = 0;
    if (ok) {
      buf_put(b, s + i, len);
      i += len;
    } else {
      char tmp[8];
      snprintf(tmp, sizeof tmp, "\\udc%02x", c);
      buf_puts(b, tmp);
      i++;
    }
  }
  buf_putc(b, '"');
}

static void line_begin(const char *ev, long long id, int with_id) {
  out_line.len = 0;
  buf_puts(&out_line, "{\"ev\":\"");
  buf_puts(&out_line, ev);
  buf_putc(&out_line, '"');
  if (with_id) {
    buf_puts(&out_line, ",\"id\":");
    buf_int(&out_line, id);
  }
}

static void line_send(void) {
  buf_puts(&out_line, "}\n");
  size_t off = 0;
  while (off < out_line.len) {
    ssize_t n = write(STDOUT_FILENO, out_line.p + off, out_line.len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(1); /* the host is gone (SIGPIPE is ignored) */
    }
    off += (size_t)n;
  }
  if (out_line.cap > (1u << 22)) buf_free(&out_line);
}

static void send_ok(long long id) {
  line_begin("result", id, 1);
  buf_puts(&out_line, ",\"ok\":true");
  line_send();
}

static void send_error(long long id, const char *msg, int err) {
  line_begin("result", id, 1);
  buf_puts(&out_line, ",\"ok\":false,\"error\":");
  json_str(&out_line, msg, strlen(msg));
  buf_puts(&out_line, ",\"errno\":");
  buf_int(&out_line, err);
  line_send();
}

static void send_out(long long id, int stream, const unsigned char *d, size_t n) {
  line_begin("out", id, 1);
  buf_puts(&out_line, ",\"fd\":");
  buf_int(&out_line, stream);
  buf_puts(&out_line, ",\"data\":\"");
  b64_encode(&out_line, d, n);
  buf_putc(&out_line, '"');
  line_send();
}

/* ---------------------------------------------------------------- exec table */

typedef struct proc {
  long long id;
  unsigned long serial; /* unique per exec: stale poll results are recognised by it */
  pid_t pid;
  int pidfd; /* -1 once reaped, or always when the SIGCHLD pipe stands in */
  int awaiting; /* exit not yet seen (SIGCHLD-pipe mode) */
  int out_fd[2]; /* stdout, stderr read ends; -1 once closed */
  int stdin_fd;
  int has_status, code, sig;
  buf_t stdin_buf;
  int stdin_closing, stdin_registered;
  struct proc *next;
} proc_t;

static proc_t *procs;
static unsigned long next_serial = 1;
static unsigned char read_buf[READ_CHUNK];

static proc_t *find_proc(long long id) {
  for (proc_t *p = procs; p; p = p->next)
    if (p->id == id) return p;
  return NULL;
}

static proc_t *find_serial(unsigned long serial) {
  for (proc_t *p = procs; p; p = p->next)
    if (p->serial == serial) return p;
  return NULL;
}

static void remove_proc(proc_t *p) {
  for (proc_t **pp = &procs; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  buf_free(&p->stdin_buf);
  free(p);
}

static const char *signal_name(int sig, char *tmp, size_t tmplen) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
#ifdef SIGSTKFLT
    case SIGSTKFLT: return "SIGSTKFLT";
#endif
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    case SIGTTIN: return "SIGTTIN";
    case SIGTTOU: return "SIGTTOU";
    case SIGURG: return "SIGURG";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGVTALRM: return "SIGVTALRM";
    case SIGPROF: return "SIGPROF";
    case SIGWINCH: return "SIGWINCH";
    case SIGIO: return "SIGIO";
    case SIGPWR: return "SIGPWR";
    case SIGSYS: return "SIGSYS";
    default: break;
  }
  if (sig == SIGRTMIN) return "SIGRTMIN";
  if (sig == SIGRTMAX) return "SIGRTMAX";
  snprintf(tmp, tmplen, "SIGRTMIN+%d", sig - SIGRTMIN);
  return tmp;
}

static void close_stdin(proc_t *p) {
  if (p->stdin_fd < 0) return;
  p->stdin_registered = 0;
  close(p->stdin_fd);
  p->stdin_fd = -1;
}

static void finish_if_done(proc_t *p) {
  if (!p->has_status || p->out_fd[0] >= 0 || p->out_fd[1] >= 0) return;
  char tmp[32];
  line_begin("exit", p->id, 1);
  buf_puts(&out_line, ",\"code\":");
  buf_int(&out_line, p->code);
  buf_puts(&out_line, ",\"signal\":");
  if (p->sig) {
    buf_putc(&out_line, '"');
    buf_puts(&out_line, signal_name(p->sig, tmp, sizeof tmp));
    buf_putc(&out_line, '"');
  } else {
    buf_puts(&out_line, "null");
  }
  line_send();
  close_stdin(p);
  remove_proc(p);
}

static void on_output(proc_t *p, int stream) {
  int fd = p->out_fd[stream - 1];
  ssize_t n;
  do n = read(fd, read_buf, sizeof read_buf);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    send_out(p->id, stream, read_buf, (size_t)n);
    return;
  }
  close(fd);
  p->out_fd[stream - 1] = -1;
  finish_if_done(p);
}

/* The main process is gone. Output still buffered is forwarded; a background child that keeps
 * the pipe open must not hold the exec hostage, so the read ends are closed. */
static void drain_after_exit(proc_t *p) {
  for (int s = 0; s < 2; s++) {
    int fd = p->out_fd[s];
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
      ssize_t n = read(fd, read_buf, sizeof read_buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      send_out(p->id, s + 1, read_buf, (size_t)n);
    }
    close(fd);
    p->out_fd[s] = -1;
  }
  finish_if_done(p);
}

static void record_exit(proc_t *p, int status) {
  p->awaiting = 0;
  p->has_status = 1;
  if (WIFSIGNALED(status)) {
    p->code = 128 + WTERMSIG(status);
    p->sig = WTERMSIG(status);
  } else {
    p->code = WEXITSTATUS(status);
    p->sig = 0;
  }
  drain_after_exit(p);
}

static void on_exit_ready(proc_t *p) {
  int status = 0;
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(p->pidfd);
  p->pidfd = -1;
  record_exit(p, status);
}

/* SIGCHLD-pipe mode: whether pidfd_open works is probed once at start-up. */
static int use_pidfd = 1;
static int sigchld_pipe[2] = {-1, -1};

static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  ssize_t r = write(sigchld_pipe[1], "x", 1); /* full pipe: a wake-up is pending anyway */
  (void)r;
  errno = saved;
}

/* RINGFENCE_EXIT_WATCH=sigchld forces the stand-in (tests exercise it on hosts with pidfds). */
static void init_exit_watch(void) {
  const char *want = getenv("RINGFENCE_EXIT_WATCH");
  int forced = want && strcmp(want, "sigchld") == 0;
  unsetenv("RINGFENCE_EXIT_WATCH");
  int fd = forced ? -1 : (int)syscall(SYS_PIDFD_OPEN, getpid(), 0);
  if (fd >= 0) {
    close(fd);
    return;
  }
  use_pidfd = 0;
  if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe: %s", strerror(errno));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGCHLD, &sa, NULL) != 0) die("sigaction: %s", strerror(errno));
}

/* SIGCHLD-pipe mode: the pipe was readable; reap every exec whose child has exited. */
static void on_sigchld_ready(void) {
  char drain[64];
  while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {
  }
  proc_t *next;
  for (proc_t *p = procs; p; p = next) {
    next = p->next; /* record_exit may remove p (and only p) */
    if (!p->awaiting) continue;
    int status = 0;
    pid_t r;
    while ((r = waitpid(p->pid, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == p->pid) record_exit(p, status);
  }
}

/* Closes every descriptor from 3 up: close_range, else the ones /proc/self/fd lists (gVisor's
 * older runsc has no close_range, and a close() per possible fd costs a trap each there). */
static void close_from_3(void) {
  if (syscall(SYS_CLOSE_RANGE, 3u, (unsigned)INT_MAX, 0u) == 0) return;
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    for (int fd = 3; fd < 65536; fd++) close(fd);
    return;
  }
  int self = dirfd(d);
  size_t n = 0, cap = 0;
  int *fds = NULL;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd < 3 || fd == self) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      int *more = realloc(fds, cap * sizeof *more);
      if (!more) break;
      fds = more;
    }
    fds[n++] = fd;
  }
  closedir(d);
  for (size_t i = 0; i < n; i++) close(fds[i]);
  free(fds);
}

/* Everything a child needs, prepared by the supervisor before the clone: the child shares the
 * supervisor's memory until it execs (CLONE_VM | CLONE_VFORK, as posix_spawn does), so it only
 * makes system calls. Under gVisor's ptrace platform a fork (a new address space, then another at
 * execve) made an exec of `true` cost ~18 ms median; sharing the memory brings it to ~12 ms. */
typedef struct {
  const char *argv0; /* for the error message */
  char **argv, **envp;
  char **paths; /* what execve tries, in order: os.execvpe's PATH search */
  char **owned; /* envp strings allocated here */
  const char *cwd;
  int prep_err; /* a bad argv/env: reported after chdir, as supervisor.py's child does */
  int in_r, out_w, err_w;
  sigset_t mask; /* the supervisor's signal mask, restored before execve */
  char tag[64];
} spawn_t;

#define SPAWN_STACK_BYTES (256 * 1024)
/* One child at a time runs on it: CLONE_VFORK suspends the supervisor until the child execs. */
static char spawn_stack[SPAWN_STACK_BYTES] __attribute__((aligned(64)));

/* os.execvpe's search list: a name with a slash as is, else each PATH entry (from the request's
 * env, default /bin:/usr/bin) joined with it. */
static char **search_paths(const char *file, const char *path) {
  size_t n = 1;
  if (!strchr(file, '/'))
    for (const char *c = path; *c; c++) n += *c == ':';
  char **out = calloc(n + 1, sizeof *out);
  if (!out) die("out of memory");
  if (strchr(file, '/')) {
    out[0] = strdup(file);
    if (!out[0]) die("out of memory");
    return out;
  }
  size_t flen = strlen(file), i = 0;
  for (const char *dir = path;; i++) {
    const char *colon = strchr(dir, ':');
    size_t dlen = colon ? (size_t)(colon - dir) : strlen(dir);
    char *full = malloc(dlen + flen + 2);
    if (!full) die("out of memory");
    memcpy(full, dir, dlen);
    size_t k = dlen;
    if (dlen > 0 && dir[dlen - 1] != '/') full[k++] = '/';
    memcpy(full + k, file, flen + 1);
    out[i] = full;
    if (!colon) break;
    dir = colon + 1;
  }
  return out;
}

static void spawn_free(spawn_t *s) {
  for (char **p = s->paths; p && *p; p++) free(*p);
  for (char **p = s->owned; p && *p; p++) free(*p);
  free(s->paths);
  free(s->owned);
  free(s->argv);
  free(s->envp);
}

/* Fills `s` from an exec request. The request's EXEC_TAG is replaced in place, as the Python dict
 * assignment does; an argv or env the exec cannot take sets prep_err (EINVAL). */
static void spawn_prepare(spawn_t *s, jval *req, long long id) {
  jval *argvj = jget(req, "argv");
  jval *envj = jget(req, "env");
  s->argv0 = "";
  if (argvj && argvj->t == J_ARR && argvj->count > 0 && argvj->items[0].t == J_STR)
    s->argv0 = argvj->items[0].s;
  s->cwd = jstr(req, "cwd");
  if (!s->cwd || !*s->cwd) s->cwd = WORKSPACE;
  size_t nargv = argvj && argvj->t == J_ARR ? argvj->count : 0;
  size_t nenv = envj && envj->t == J_OBJ ? envj->count : 0;
  s->argv = calloc(nargv + 1, sizeof *s->argv);
  s->envp = calloc(nenv + 2, sizeof *s->envp);
  s->owned = calloc(nenv + 1, sizeof *s->owned);
  if (!s->argv || !s->envp || !s->owned) die("out of memory");
  if (nargv == 0) s->prep_err = EINVAL;
  for (size_t i = 0; i < nargv && !s->prep_err; i++) {
    jval *a = &argvj->items[i];
    if (a->t != J_STR || strlen(a->s) != a->slen) s->prep_err = EINVAL;
    else s->argv[i] = a->s;
  }
  const char *path = NULL;
  snprintf(s->tag, sizeof s->tag, "%s=%lld", EXEC_TAG, id);
  int tagged = 0;
  size_t k = 0, owned = 0;
  for (size_t i = 0; i < nenv && !s->prep_err; i++) {
    jval *v = &envj->items[i];
    const char *key = envj->keys[i];
    if (strcmp(key, EXEC_TAG) == 0) {
      if (!tagged) s->envp[k++] = s->tag;
      tagged = 1;
      continue;
    }
    if (v->t != J_STR || strlen(v->s) != v->slen || !*key || strchr(key, '=')) {
      s->prep_err = EINVAL;
      break;
    }
    if (strcmp(key, "PATH") == 0) path = v->s;
    char *e = malloc(strlen(key) + v->slen + 2);
    if (!e) die("out of memory");
    sprintf(e, "%s=%s", key, v->s);
    s->envp[k++] = s->owned[owned++] = e;
  }
  if (!tagged) s->envp[k++] = s->tag;
  s->envp[k] = NULL;
  s->paths = search_paths(s->prep_err ? "" : s->argv[0], path ? path : "/bin:/usr/bin");
}

static void child_fail(const char *argv0, int err) {
  const char *msg = strerror(err);
  struct iovec v[5] = {{(void *)"ringfence: cannot run ", 22},
                       {(void *)argv0, strlen(argv0)},
                       {(void *)": ", 2},
                       {(void *)msg, strlen(msg)},
                       {(void *)"\n", 1}};
  ssize_t r = writev(2, v, 5);
  (void)r;
  _exit(err == ENOENT ? 127 : 126);
}

static int child_main(void *arg) {
  spawn_t *s = arg;
  /* Handlers are this process's own copy: none of the supervisor's may run here. */
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &s->mask, NULL);
  setsid();
  /* The supervisor is shielded from the OOM killer by the host; its children are not. */
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) {
    ssize_t r = write(oom, "0", 1);
    (void)r;
    close(oom);
  }
  if (dup2(s->in_r, 0) < 0 || dup2(s->out_w, 1) < 0 || dup2(s->err_w, 2) < 0)
    child_fail(s->argv0, errno);
  close_from_3();
  if (chdir(s->cwd) != 0) child_fail(s->argv0, errno);
  if (s->prep_err) child_fail(s->argv0, s->prep_err);
  /* The first error other than ENOENT/ENOTDIR wins, else the last one (os.execvpe). */
  int saved = 0, last = ENOENT;
  for (char **p = s->paths; *p; p++) {
    execve(*p, s->argv, s->envp);
    last = errno;
    if (last != ENOENT && last != ENOTDIR && !saved) saved = last;
  }
  child_fail(s->argv0, saved ? saved : last);
  return 127;
}

static void do_exec(jval *req, long long id) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0) goto pipe_fail;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]), close(out[1]);
    goto pipe_fail;
  }
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]), close(out[1]), close(err[0]), close(err[1]);
    goto pipe_fail;
  }
  /* A fork bomb that outlived its exec keeps the pids limit full for a moment: retry EAGAIN for up
   * to FORK_RETRIES x FORK_RETRY_NS (the one place this deviates from supervisor.py, which fails
   * at once) so the sandbox recovers; requests stay in order because the loop waits. */
  spawn_t sp;
  memset(&sp, 0, sizeof sp);
  spawn_prepare(&sp, req, id);
  sp.in_r = in[0];
  sp.out_w = out[1];
  sp.err_w = err[1];
  sigset_t all;
  sigfillset(&all);
  pid_t pid;
  int clone_err = 0;
  for (int attempt = 0;; attempt++) {
    /* No handler of the supervisor may run on the child's side of the shared memory. */
    sigprocmask(SIG_BLOCK, &all, &sp.mask);
    pid = clone(child_main, spawn_stack + SPAWN_STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
    clone_err = errno;
    sigprocmask(SIG_SETMASK, &sp.mask, NULL);
    if (pid >= 0 || clone_err != EAGAIN || attempt >= FORK_RETRIES) break;
    struct timespec pause = {0, FORK_RETRY_NS};
    nanosleep(&pause, NULL);
  }
  spawn_free(&sp);
  if (pid < 0) {
    int fds[6] = {out[0], out[1], err[0], err[1], in[0], in[1]};
    for (int i = 0; i < 6; i++) close(fds[i]);
    char msg[256];
    snprintf(msg, sizeof msg, "fork failed: %s", strerror(clone_err));
    send_error(id, msg, clone_err);
    return;
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  int pidfd = use_pidfd ? (int)syscall(SYS_PIDFD_OPEN, pid, 0) : -1;
  if (use_pidfd && pidfd < 0) {
    /* Without a pidfd the exit could never be seen: refuse the exec rather than hang it. */
    int e = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close(in[1]), close(out[0]), close(err[0]);
    char msg[256];
    snprintf(msg, sizeof msg, "pidfd_open failed: %s", strerror(e));
    send_error(id, msg, e);
    return;
  }
  if (pidfd >= 0) fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  proc_t *p = calloc(1, sizeof *p);
  if (!p) die("out of memory");
  proc_t *old = find_proc(id);
  if (old) old->id = LLONG_MIN; /* a reused id replaces the entry, as the Python dict does */
  p->id = id;
  p->serial = next_serial++;
  p->pid = pid;
  p->pidfd = pidfd;
  p->awaiting = !use_pidfd; /* a SIGCHLD already sent keeps the pipe readable until reaped */
  p->out_fd[0] = out[0];
  p->out_fd[1] = err[0];
  p->stdin_fd = in[1];
  jval *want_stdin = jget(req, "stdin");
  if (want_stdin && want_stdin->t == J_BOOL && want_stdin->b) {
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
  } else {
    close(in[1]);
    p->stdin_fd = -1;
  }
  p->next = procs;
  procs = p;
  line_begin("started", id, 1);
  buf_puts(&out_line, ",\"pid\":");
  buf_int(&out_line, pid);
  line_send();
  return;
pipe_fail: {
  int e = errno;
  send_error(id, strerror(e), e); /* Python would have died here; a result is kinder */
}
}

/* Does /proc/<pid>/environ hold exactly the entry `tag`? */
static int environ_has(const char *pid, const char *tag) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%s/environ", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  buf_t b = {0};
  for (;;) {
    buf_reserve(&b, 4096);
    ssize_t n = read(fd, b.p + b.len, 4096);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    b.len += (size_t)n;
  }
  close(fd);
  int found = 0;
  size_t tlen = strlen(tag);
  for (size_t i = 0; i < b.len && !found;) {
    size_t j = i;
    while (j < b.len && b.p[j]) j++;
    if (j - i == tlen && memcmp(b.p + i, tag, tlen) == 0) found = 1;
    i = j + 1;
  }
  buf_free(&b);
  return found;
}

static void kill_exec(long long id, int sig) {
  proc_t *p = find_proc(id);
  if (!p) return;
  size_t n = 0, cap = 16;
  pid_t *targets = malloc(cap * sizeof *targets);
  if (!targets) die("out of memory");
  targets[n++] = p->pid;
  /* Descendants that left the process group (setsid, double fork) still carry the exec tag. */
  char tag[64];
  snprintf(tag, sizeof tag, "%s=%lld", EXEC_TAG, id);
  pid_t self = getpid();
  DIR *d = opendir("/proc");
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      const char *name = e->d_name;
      if (!*name) continue;
      int digits = 1;
      for (const char *c = name; *c; c++)
        if (!isdigit((unsigned char)*c)) digits = 0;
      if (!digits || atol(name) == self) continue;
      if (!environ_has(name, tag)) continue;
      if (n == cap) {
        cap *= 2;
        pid_t *t = realloc(targets, cap * sizeof *t);
        if (!t) die("out of memory");
        targets = t;
      }
      targets[n++] = (pid_t)atol(name);
    }
    closedir(d);
  }
  killpg(p->pid, sig);
  for (size_t i = 0; i < n; i++) kill(targets[i], sig);
  free(targets);
}

/* Non-blocking writes with a pending buffer: a child that does not read its stdin must never
 * stall the supervisor (and with it every other exec of the session). */
static void flush_stdin(proc_t *p) {
  if (p->stdin_fd < 0) return;
  while (p->stdin_buf.len > 0) {
    ssize_t n = write(p->stdin_fd, p->stdin_buf.p, p->stdin_buf.len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      p->stdin_buf.len = 0;
      close_stdin(p);
      return;
    }
    buf_consume(&p->stdin_buf, (size_t)n);
  }
  if (p->stdin_buf.len > 0) {
    p->stdin_registered = 1;
  } else {
    p->stdin_registered = 0;
    buf_free(&p->stdin_buf);
    if (p->stdin_closing) close_stdin(p);
  }
}

/* ---------------------------------------------------------------- file operations */

/* Strings made while resolving one path; freed together when the operation ends. */
typedef struct {
  char **v;
  size_t n, cap;
} pool_t;

static char *pool_keep(pool_t *pl, char *s) {
  if (!s) die("out of memory");
  if (pl->n == pl->cap) {
    pl->cap = pl->cap ? pl->cap * 2 : 32;
    char **v = realloc(pl->v, pl->cap * sizeof *v);
    if (!v) die("out of memory");
    pl->v = v;
  }
  pl->v[pl->n++] = s;
  return s;
}

static void pool_free(pool_t *pl) {
  for (size_t i = 0; i < pl->n; i++) free(pl->v[i]);
  free(pl->v);
  memset(pl, 0, sizeof *pl);
}

/* posixpath.join(a, b) */
static char *pjoin(pool_t *pl, const char *a, const char *b) {
  if (*b == '/') return pool_keep(pl, strdup(b));
  size_t la = strlen(a), lb = strlen(b);
  char *r = pool_keep(pl, malloc(la + lb + 2));
  memcpy(r, a, la);
  size_t k = la;
  if (la > 0 && a[la - 1] != '/') r[k++] = '/';
  memcpy(r + k, b, lb + 1);
  return r;
}

/* posixpath.split(p) -> (head, tail) */
static void psplit(pool_t *pl, const char *p, char **head, char **tail) {
  const char *slash = strrchr(p, '/');
  size_t i = slash ? (size_t)(slash - p) + 1 : 0;
  *tail = pool_keep(pl, strdup(p + i));
  char *h = pool_keep(pl, strndup(p, i));
  size_t allslash = 1;
  for (size_t k = 0; k < i; k++)
    if (h[k] != '/') allslash = 0;
  if (i > 0 && !allslash)
    while (i > 0 && h[i - 1] == '/') h[--i] = 0;
  *head = h;
}

/* posixpath.dirname(p) */
static char *pdirname(pool_t *pl, const char *p) {
  char *head, *tail;
  psplit(pl, p, &head, &tail);
  return head;
}

/* posixpath.normpath(p) */
static char *pnormpath(pool_t *pl, const char *p) {
  if (!*p) return pool_keep(pl, strdup("."));
  int initial = p[0] == '/' ? 1 : 0;
  if (initial && p[1] == '/' && p[2] != '/') initial = 2;
  size_t len = strlen(p);
  const char **comps = calloc(len + 1, sizeof *comps);
  size_t *lens = calloc(len + 1, sizeof *lens);
  if (!comps || !lens) die("out of memory");
  size_t n = 0;
  for (const char *c = p; c <= p + len;) {
    const char *e = strchr(c, '/');
    if (!e) e = p + len;
    size_t cl = (size_t)(e - c);
    int dot = cl == 1 && c[0] == '.';
    int dotdot = cl == 2 && c[0] == '.' && c[1] == '.';
    if (cl == 0 || dot) {
      /* skip */
    } else if (!dotdot || (!initial && n == 0) ||
               (n > 0 && lens[n - 1] == 2 && memcmp(comps[n - 1], "..", 2) == 0)) {
      comps[n] = c;
      lens[n++] = cl;
    } else if (n > 0) {
      n--;
    }
    c = e + 1;
  }
  char *r = pool_keep(pl, malloc(len + 3));
  size_t k = 0;
  for (int i = 0; i < initial; i++) r[k++] = '/';
  for (size_t i = 0; i < n; i++) {
    if (i) r[k++] = '/';
    memcpy(r + k, comps[i], lens[i]);
    k += lens[i];
  }
  r[k] = 0;
  free(comps);
  free(lens);
  if (k == 0) return pool_keep(pl, strdup("."));
  return r;
}

typedef struct {
  char **key, **val; /* val NULL: link being resolved */
  size_t n, cap;
} seen_t;

static ssize_t seen_find(seen_t *s, const char *k) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->key[i], k) == 0) return (ssize_t)i;
  return -1;
}

static void seen_set(seen_t *s, char *k, char *v) {
  ssize_t i = seen_find(s, k);
  if (i >= 0) {
    s->val[i] = v;
    return;
  }
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    char **nk = realloc(s->key, s->cap * sizeof *nk);
    if (!nk) die("out of memory");
    s->key = nk;
    char **nv = realloc(s->val, s->cap * sizeof *nv);
    if (!nv) die("out of memory");
    s->val = nv;
  }
  s->key[s->n] = k;
  s->val[s->n++] = v;
}

/* posixpath._joinrealpath(path, rest, strict=False, seen): 0 ok, 1 loop (not ok), -errno on a
 * readlink failure. */
static int joinrealpath(pool_t *pl, seen_t *seen, char **path, const char *rest_in, int depth) {
  if (depth > MAX_LINK_DEPTH) return -ELOOP;
  char *rest = pool_keep(pl, strdup(rest_in));
  if (*rest == '/') {
    rest++;
    *path = pool_keep(pl, strdup("/"));
  }
  while (*rest) {
    char *name = rest;
    char *sep = strchr(rest, '/');
    if (sep) {
      *sep = 0;
      rest = sep + 1;
    } else {
      rest += strlen(rest);
    }
    if (!*name || strcmp(name, ".") == 0) continue;
    if (strcmp(name, "..") == 0) {
      if (**path) {
        char *head, *tail;
        psplit(pl, *path, &head, &tail);
        *path = head;
        if (strcmp(tail, "..") == 0) *path = pjoin(pl, pjoin(pl, head, ".."), "..");
      } else {
        *path = pool_keep(pl, strdup(".."));
      }
      continue;
    }
    char *newpath = pjoin(pl, *path, name);
    struct stat st;
    if (lstat(newpath, &st) != 0 || !S_ISLNK(st.st_mode)) {
      *path = newpath;
      continue;
    }
    ssize_t at = seen_find(seen, newpath);
    if (at >= 0) {
      if (seen->val[at]) {
        *path = seen->val[at];
        continue;
      }
      /* A symlink loop: the resolved part plus the rest, unchanged. */
      *path = pjoin(pl, newpath, rest);
      return 1;
    }
    seen_set(seen, newpath, NULL);
    char target[PATH_MAX + 1];
    ssize_t tl = readlink(newpath, target, PATH_MAX);
    if (tl < 0) return -errno;
    target[tl] = 0;
    int r = joinrealpath(pl, seen, path, target, depth + 1);
    if (r < 0) return r;
    if (r == 1) {
      *path = pjoin(pl, *path, rest);
      return 1;
    }
    seen_set(seen, newpath, *path);
  }
  return 0;
}

/* Resolve links in the sandbox's own view; anything that lands outside /workspace is refused.
 * Returns 0 or an errno (18 for "resolves outside /workspace"). */
static int inside_workspace(const char *p) {
  pool_t pl = {0};
  seen_t seen = {0};
  char *path = pool_keep(&pl, strdup(""));
  int r = joinrealpath(&pl, &seen, &path, p, 0);
  int err = 0;
  if (r < 0) {
    err = -r;
  } else {
    if (*path != '/') {
      char cwd[PATH_MAX];
      if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
      path = pjoin(&pl, cwd, path);
    }
    char *real = pnormpath(&pl, path);
    size_t wl = strlen(WORKSPACE);
    if (!(strcmp(real, WORKSPACE) == 0 || (strncmp(real, WORKSPACE, wl) == 0 && real[wl] == '/')))
      err = EXDEV;
  }
  free(seen.key);
  free(seen.val);
  pool_free(&pl);
  return err;
}

static void file_error(long long id, int err, const char *msg) {
  send_error(id, msg ? msg : strerror(err), err);
}

static void do_read(long long id, const char *path, long long max) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return file_error(id, errno, NULL);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return file_error(id, e, NULL);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return file_error(id, EINVAL, "not a regular file");
  }
  buf_t data = {0};
  long long total = 0;
  while (total < max) {
    long long want = max - total < (1 << 20) ? max - total : (1 << 20);
    buf_reserve(&data, (size_t)want);
    ssize_t n = read(fd, data.p + data.len, (size_t)want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      buf_free(&data);
      return file_error(id, e, NULL);
    }
    if (n == 0) break;
    data.len += (size_t)n;
    total += n;
  }
  close(fd);
  line_begin("result", id, 1);
  buf_puts(&out_line, ",\"ok\":true,\"data\":\"");
  b64_encode(&out_line, (const unsigned char *)(data.p ? data.p : ""), data.len);
  buf_puts(&out_line, "\",\"size\":");
  buf_int(&out_line, (long long)st.st_size);
  buf_free(&data);
  line_send();
}

static void do_write(long long id, const char *path, jval *dataj) {
  buf_t data = {0};
  if (dataj && dataj->t == J_STR) b64_decode(&data, dataj->s, dataj->slen);
  /* O_NOFOLLOW: a symlink at the target is refused, never written through. */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  int err = 0;
  const char *msg = NULL;
  if (fd < 0) {
    err = errno;
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0) err = errno;
    else if (!S_ISREG(st.st_mode)) err = EINVAL, msg = "not a regular file";
    size_t off = 0;
    while (!err && off < data.len) {
      ssize_t n = write(fd, data.p + off, data.len - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      else off += (size_t)n;
    }
    close(fd);
  }
  buf_free(&data);
  if (err) return file_error(id, err, msg);
  send_ok(id);
}

static void do_list(long long id, const char *path) {
  DIR *d = opendir(path);
  if (!d) return file_error(id, errno, NULL);
  buf_t entries = {0};
  buf_putc(&entries, '[');
  int first = 1, err = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      err = errno;
      break;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      err = errno;
      break;
    }
    const char *kind = S_ISLNK(st.st_mode)   ? "symlink"
                       : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISREG(st.st_mode) ? "file"
                                             : "other";
    if (!first) buf_putc(&entries, ',');
    first = 0;
    buf_puts(&entries, "{\"name\":");
    json_str(&entries, e->d_name, strlen(e->d_name));
    buf_puts(&entries, ",\"type\":\"");
    buf_puts(&entries, kind);
    buf_puts(&entries, "\",\"size\":");
    buf_int(&entries, (long long)st.st_size);
    buf_putc(&entries, '}');
  }
  closedir(d);
  buf_putc(&entries, ']');
  if (err) {
    buf_free(&entries);
    return file_error(id, err, NULL);
  }
  line_begin("result", id, 1);
  buf_puts(&out_line, ",\"ok\":true,\"entries\":");
  buf_put(&out_line, entries.p, entries.len);
  buf_free(&entries);
  line_send();
}

static void do_file(jval *req, const char *op, long long id) {
  jval *pv = jget(req, "path");
  if (!pv || pv->t != J_STR) die("request %lld has no path", id);
  if (strlen(pv->s) != pv->slen) return file_error(id, EINVAL, "embedded null byte");
  const char *path = pv->s;
  int err;
  if (strcmp(op, "write") == 0) {
    pool_t pl = {0};
    err = inside_workspace(pdirname(&pl, path));
    pool_free(&pl);
  } else {
    err = inside_workspace(path);
  }
  if (err) return file_error(id, err, err == EXDEV ? "resolves outside /workspace" : NULL);
  if (strcmp(op, "read") == 0) do_read(id, path, jnum(req, "max", 10LL << 20));
  else if (strcmp(op, "write") == 0) do_write(id, path, jget(req, "data"));
  else do_list(id, path);
}

/* ---------------------------------------------------------------- requests and main loop */

static buf_t in_buf;

static void handle_line(const char *line, size_t len) {
  jparser jp = {line, line + len, 0};
  jval req = {0};
  if (jvalue(&jp, &req) != 0 || req.t != J_OBJ) die("malformed request");
  jws(&jp);
  if (jp.p != jp.end) die("malformed request");
  const char *op = jstr(&req, "op");
  jval *idv = jget(&req, "id");
  if (!op) die("request without op");
  if (!idv || idv->t != J_NUM) die("request %s without id", op);
  long long id = jnum(&req, "id", 0);
  if (strcmp(op, "exec") == 0) {
    do_exec(&req, id);
  } else if (strcmp(op, "stdin") == 0) {
    proc_t *p = find_proc(id);
    jval *d = jget(&req, "data");
    if (p && p->stdin_fd >= 0) {
      if (d && d->t == J_STR) b64_decode(&p->stdin_buf, d->s, d->slen);
      flush_stdin(p);
    }
  } else if (strcmp(op, "stdin_end") == 0) {
    proc_t *p = find_proc(id);
    if (p && p->stdin_fd >= 0) {
      p->stdin_closing = 1;
      flush_stdin(p);
    }
  } else if (strcmp(op, "kill") == 0) {
    kill_exec(id, (int)jnum(&req, "sig", 9));
  } else if (strcmp(op, "read") == 0 || strcmp(op, "write") == 0 || strcmp(op, "list") == 0) {
    do_file(&req, op, id);
  } else if (strcmp(op, "ping") == 0) {
    send_ok(id);
  }
  jfree(&req);
}

static void on_request(void) {
  buf_reserve(&in_buf, 1 << 20);
  ssize_t n;
  do n = read(STDIN_FILENO, in_buf.p + in_buf.len, 1 << 20);
  while (n < 0 && errno == EINTR);
  /* The host went away: end the session; the pid namespace takes everything with it. */
  if (n <= 0) _exit(0);
  in_buf.len += (size_t)n;
  size_t start = 0;
  for (;;) {
    char *nl = memchr(in_buf.p + start, '\n', in_buf.len - start);
    if (!nl) break;
    size_t end = (size_t)(nl - in_buf.p);
    handle_line(in_buf.p + start, end - start);
    start = end + 1;
  }
  buf_consume(&in_buf, start);
  if (in_buf.len == 0 && in_buf.cap > (4u << 20)) buf_free(&in_buf);
}

/* RLIMIT_FSIZE always; AS and NPROC when cgroups are unavailable. Applied, then removed. */
static void apply_rlimits(void) {
  const char *spec = getenv("RINGFENCE_RLIMITS");
  if (!spec) return;
  char *copy = strdup(spec);
  if (!copy) die("out of memory");
  for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
    char *eq = strchr(item, '=');
    if (!eq) continue;
    *eq = 0;
    int res;
    if (strcmp(item, "fsize") == 0) res = RLIMIT_FSIZE;
    else if (strcmp(item, "as") == 0) res = RLIMIT_AS;
    else if (strcmp(item, "nproc") == 0) res = RLIMIT_NPROC;
    else if (strcmp(item, "core") == 0) res = RLIMIT_CORE;
    else die("unknown rlimit %s", item);
    char *endp;
    errno = 0;
    unsigned long long v = strtoull(eq + 1, &endp, 10);
    if (errno || endp == eq + 1 || *endp) die("bad rlimit value for %s", item);
    struct rlimit rl = {(rlim_t)v, (rlim_t)v};
    if (setrlimit(res, &rl) != 0) die("setrlimit %s: %s", item, strerror(errno));
  }
  free(copy);
  unsetenv("RINGFENCE_RLIMITS");
}

enum { K_REQ, K_OUT1, K_OUT2, K_EXIT, K_STDIN, K_SIGCHLD };

int main(void) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  apply_rlimits();
  init_exit_watch();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  line_begin("ready", 0, 0);
  buf_puts(&out_line, ",\"pid\":");
  buf_int(&out_line, getpid());
  line_send();

  struct pollfd *pfds = NULL;
  int *kinds = NULL;
  unsigned long *serials = NULL;
  size_t cap = 0;
  for (;;) {
    size_t need = 2;
    for (proc_t *p = procs; p; p = p->next) need += 4;
    if (need > cap) {
      cap = need * 2;
      pfds = realloc(pfds, cap * sizeof *pfds);
      kinds = realloc(kinds, cap * sizeof *kinds);
      serials = realloc(serials, cap * sizeof *serials);
      if (!pfds || !kinds || !serials) die("out of memory");
    }
    size_t n = 0;
    pfds[n] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
    kinds[n] = K_REQ;
    serials[n++] = 0;
    if (!use_pidfd) {
      pfds[n] = (struct pollfd){sigchld_pipe[0], POLLIN, 0};
      kinds[n] = K_SIGCHLD;
      serials[n++] = 0;
    }
    for (proc_t *p = procs; p; p = p->next) {
      for (int s = 0; s < 2; s++) {
        if (p->out_fd[s] < 0) continue;
        pfds[n] = (struct pollfd){p->out_fd[s], POLLIN, 0};
        kinds[n] = s == 0 ? K_OUT1 : K_OUT2;
        serials[n++] = p->serial;
      }
      if (p->pidfd >= 0) {
        pfds[n] = (struct pollfd){p->pidfd, POLLIN, 0};
        kinds[n] = K_EXIT;
        serials[n++] = p->serial;
      }
      if (p->stdin_fd >= 0 && p->stdin_registered) {
        pfds[n] = (struct pollfd){p->stdin_fd, POLLOUT, 0};
        kinds[n] = K_STDIN;
        serials[n++] = p->serial;
      }
    }
    if (poll(pfds, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
      if (!pfds[i].revents) continue;
      if (kinds[i] == K_REQ) {
        on_request();
        continue;
      }
      if (kinds[i] == K_SIGCHLD) {
        on_sigchld_ready();
        continue;
      }
      /* Skip what an earlier event of this batch already closed or finished. */
      proc_t *p = find_serial(serials[i]);
      if (!p) continue;
      int fd = pfds[i].fd;
      switch (kinds[i]) {
        case K_OUT1:
        case K_OUT2: {
          int s = kinds[i] == K_OUT1 ? 1 : 2;
          if (p->out_fd[s - 1] == fd) on_output(p, s);
          break;
        }
        case K_EXIT:
          if (p->pidfd == fd) on_exit_ready(p);
          break;
        case K_STDIN:
          if (p->stdin_fd == fd && p->stdin_registered) flush_stdin(p);
          break;
        default: break;
      }
    }
  }
}
