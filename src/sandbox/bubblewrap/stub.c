/* rf-stub: the first process of a bubblewrap sandbox (src/sandbox/bubblewrap/bwrap-launcher.ts).
 * Built by scripts/build-supervisor.sh into build/rf-stub. It does what the `sh` + `setpriv`
 * stub does, without their start-up (setpriv alone costs ~1.5 ms: a dynamic binary that reads
 * the passwd and group databases), on the path between "go" and the sandbox being ready.
 *
 *   rf-stub [--join FILE]... [--drop UID GID] -- BWRAP ARG...
 *
 * 1. writes its pid into every --join FILE (the sandbox's cgroup.procs files); exit 125 if one
 *    refuses, so a sandbox never runs outside its cgroups;
 * 2. waits for a line on fd 4; EOF (ringfence is gone, or discarded the stub) exits 0;
 * 3. with --drop, leaves root for UID:GID with no supplementary groups, and checks it did;
 * 4. execs BWRAP with its arguments; every other fd it was given (3, 5..) is bwrap's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GO_FD 4

static void fail(int code, const char *what, const char *arg) {
  fprintf(stderr, "rf-stub: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  exit(code);
}

static void join_cgroup(const char *procs) {
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(125, "cannot open", procs);
  if (write(fd, pid, (size_t)n) != n) fail(125, "cannot join", procs);
  close(fd);
}

/* Blocks until a line (or EOF) arrives on fd 4; returns 0 on EOF. */
static int wait_for_go(void) {
  char c;
  for (;;) {
    ssize_t r = read(GO_FD, &c, 1);
    if (r == 1 && c == '\n') return 1;
    if (r == 0) return 0;
    if (r < 0 && errno != EINTR) return 0;
  }
}

static unsigned long parse_id(const char *s) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || end == s || v == 0 || v > 0xfffffffeUL) {
    fprintf(stderr, "rf-stub: bad id %s\n", s);
    exit(2);
  }
  return v;
}

static void drop_to(uid_t uid, gid_t gid) {
  if (setgroups(0, NULL) < 0) fail(126, "setgroups", NULL);
  if (setresgid(gid, gid, gid) < 0) fail(126, "setresgid", NULL);
  if (setresuid(uid, uid, uid) < 0) fail(126, "setresuid", NULL);
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid) fail(126, "uid check", NULL);
  if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
    fail(126, "gid check", NULL);
  if (getgroups(0, NULL) != 0) fail(126, "groups check", NULL);
  if (setuid(0) == 0) fail(126, "root could be regained", NULL);
}

int main(int argc, char **argv) {
  int i = 1;
  int drop = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--join") == 0 && i + 1 < argc) {
      join_cgroup(argv[++i]);
    } else if (strcmp(argv[i], "--drop") == 0 && i + 2 < argc) {
      drop = 1;
      uid = (uid_t)parse_id(argv[++i]);
      gid = (gid_t)parse_id(argv[++i]);
    } else {
      fprintf(stderr, "rf-stub: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (i + 1 >= argc) {
    fprintf(stderr, "usage: rf-stub [--join FILE]... [--drop UID GID] -- CMD ARG...\n");
    return 2;
  }
  if (!wait_for_go()) return 0;
  close(GO_FD);
  if (drop) drop_to(uid, gid);
  execv(argv[i + 1], argv + i + 1);
  fail(127, "cannot exec", argv[i + 1]);
  return 127;
}
