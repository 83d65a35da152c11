# ringfence mounter: a root helper on the host (never inside a sandbox) that performs the bind
# mounts warm sandboxes need, so each costs a syscall instead of spawning mount(8).
# Protocol: newline-delimited JSON on stdin {"id":N,"op":"bind"|"share"|"umount","src":P,"dst":P},
# replies {"id":N,"errno":E} on stdout (0 = success). Exits when stdin closes.
import ctypes, json, os, sys

libc = ctypes.CDLL(None, use_errno=True)
MS_BIND = 4096
MS_SHARED = 1 << 20
MNT_DETACH = 2


def run(req):
    op = req["op"]
    dst = os.fsencode(req["dst"])
    if op == "bind":
        return libc.mount(os.fsencode(req["src"]), dst, None, MS_BIND, None)
    if op == "share":
        return libc.mount(None, dst, None, MS_SHARED, None)
    if op == "umount":
        return libc.umount2(dst, MNT_DETACH)
    ctypes.set_errno(22)
    return -1


for line in sys.stdin:
    req = json.loads(line)
    rc = run(req)
    sys.stdout.write(json.dumps({"id": req["id"], "errno": ctypes.get_errno() if rc != 0 else 0}) + "\n")
    sys.stdout.flush()
