/* A second anchor for bench/egress.bench.ts: the cheapest TCP relay hop Linux offers. Each
 * accepted connection on 127.0.0.1:<port> is joined to a new connection to <ip>:<port> inside
 * the kernel: both sockets go into a BPF sockhash whose stream-verdict program redirects every
 * received skb to the other socket's send side (bpf_sk_redirect_hash). No byte reaches user
 * space and nothing is copied by a process; this program only waits for the two ends to close.
 * No policy, no proxy: it measures what a hop costs before ringfence does anything.
 *
 * Usage: sockmap-forwarder <ip> <port>   (prints the local port, then serves until killed)
 * Needs root (BPF); exits 2 with the reason when the kernel refuses a map or the program.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The send buffer of both sockets: the kernel's redirect backs off for a jiffy whenever the
 * target's buffer is full, so a small one starves the stream. */
#define SNDBUF (8 * 1024 * 1024)

static int map_fd;
static struct sockaddr_in upstream;

static int bpf(int cmd, union bpf_attr *attr) {
  return (int)syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

#define INSN(c, d, s, o, i) \
  ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* key = the receiving socket's cookie; value = the socket its bytes go out of. */
static void load_program(void) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_SOCKHASH;
  a.key_size = 8;
  a.value_size = 8;
  a.max_entries = 4096;
  map_fd = bpf(BPF_MAP_CREATE, &a);
  if (map_fd < 0) {
    fprintf(stderr, "sockmap-forwarder: sockhash: %s\n", strerror(errno));
    exit(2);
  }
  struct bpf_insn prog[] = {
      INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),                  /* r6 = skb */
      INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),  /* r0 = cookie */
      INSN(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -8, 0),                 /* key on the stack */
      INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),                  /* r1 = skb */
      INSN(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_MAP_FD, 0, 0),    /* r2 = map */
      INSN(0, 0, 0, 0, 0),
      INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0),                 /* r3 = &key */
      INSN(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8),
      INSN(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0),                  /* egress */
      INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash),
      INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  prog[4].imm = map_fd;
  static char log[16384];
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SK_SKB;
  a.insns = (uint64_t)(uintptr_t)prog;
  a.insn_cnt = sizeof prog / sizeof prog[0];
  a.license = (uint64_t)(uintptr_t) "GPL";
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = sizeof log;
  a.log_level = 1;
  int prog_fd = bpf(BPF_PROG_LOAD, &a);
  if (prog_fd < 0) {
    fprintf(stderr, "sockmap-forwarder: program: %s\n%s\n", strerror(errno), log);
    exit(2);
  }
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)map_fd;
  a.attach_bpf_fd = (uint32_t)prog_fd;
  a.attach_type = BPF_SK_SKB_STREAM_VERDICT;
  if (bpf(BPF_PROG_ATTACH, &a) < 0) {
    fprintf(stderr, "sockmap-forwarder: attach: %s\n", strerror(errno));
    exit(2);
  }
}

static uint64_t cookie(int fd) {
  uint64_t c = 0;
  socklen_t len = sizeof c;
  getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len);
  return c;
}

static int map_op(int cmd, int from, int to) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  uint64_t key = cookie(from), value = (uint64_t)to;
  a.map_fd = (uint32_t)map_fd;
  a.key = (uint64_t)(uintptr_t)&key;
  if (cmd == BPF_MAP_UPDATE_ELEM) a.value = (uint64_t)(uintptr_t)&value;
  return bpf(cmd, &a);
}

static void *serve(void *arg) {
  int client = (int)(intptr_t)arg;
  int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, sndbuf = SNDBUF;
  int fds[2] = {client, up};
  for (int i = 0; i < 2; i++) {
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  }
  if (up < 0 || connect(up, (struct sockaddr *)&upstream, sizeof upstream) < 0 ||
      map_op(BPF_MAP_UPDATE_ELEM, client, up) < 0 || map_op(BPF_MAP_UPDATE_ELEM, up, client) < 0) {
    perror("sockmap-forwarder: connection");
    goto out;
  }
  /* Bytes that arrived before the sockets joined the map wait in their queues: setting the
   * receive low-water mark signals "data ready" again, and the verdict program takes them. */
  for (int i = 0; i < 2; i++) setsockopt(fds[i], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  struct pollfd pf[2] = {{.fd = client, .events = POLLRDHUP}, {.fd = up, .events = POLLRDHUP}};
  int open = 2;
  while (open > 0 && poll(pf, 2, -1) >= 0) {
    for (int i = 0; i < 2; i++) {
      if (!(pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
      pf[i].events = 0;
      pf[i].fd = -1;
      shutdown(fds[1 - i], SHUT_WR);
      open--;
    }
  }
  map_op(BPF_MAP_DELETE_ELEM, client, 0);
  map_op(BPF_MAP_DELETE_ELEM, up, 0);
out:
  if (up >= 0) close(up);
  close(client);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: sockmap-forwarder <ip> <port>\n");
    return 2;
  }
  upstream.sin_family = AF_INET;
  upstream.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &upstream.sin_addr) != 1) {
    fprintf(stderr, "sockmap-forwarder: not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  load_program();
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof local;
  if (listener < 0 || bind(listener, (struct sockaddr *)&local, sizeof local) < 0 ||
      listen(listener, 64) < 0 || getsockname(listener, (struct sockaddr *)&local, &len) < 0) {
    perror("sockmap-forwarder: listen");
    return 2;
  }
  printf("%d\n", ntohs(local.sin_port));
  fflush(stdout);
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(intptr_t)client) != 0) close(client);
    else pthread_detach(t);
  }
}
