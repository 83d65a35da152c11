# ringfence in-sandbox supervisor: runs inside the bubblewrap sandbox for the whole session and
# starts each exec on request, so a sandbox is created once and each exec costs a fork, not a bwrap.
#
# Protocol: newline-delimited JSON on stdin (requests) and stdout (events); bytes are base64.
#   {"op":"exec","id":N,"argv":[...],"env":{...},"cwd":"/workspace","stdin":true|false}
#   {"op":"stdin","id":N,"data":B64}  {"op":"stdin_end","id":N}  {"op":"kill","id":N,"sig":9}
#   {"op":"read","id":N,"path":P,"max":BYTES}  {"op":"write","id":N,"path":P,"data":B64}
#   {"op":"list","id":N,"path":P}  {"op":"ping","id":N}
# Events: {"ev":"ready"} {"ev":"out","id":N,"fd":1|2,"data":B64} {"ev":"exit","id":N,"code":C,"signal":S}
#         {"ev":"result","id":N,"ok":true,...} {"ev":"result","id":N,"ok":false,"error":MSG,"errno":E}
# It runs with the sandbox's uid, no capabilities and the seccomp filter; it marks itself
# non-dumpable so other sandbox processes cannot open its pipes through /proc.
import base64, ctypes, json, os, resource, selectors, signal, stat, sys, time

PR_SET_DUMPABLE = 4
try:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
except Exception:
    pass

# Limits the host asked for (RLIMIT_FSIZE always; AS and NPROC when cgroups are unavailable).
RLIMITS = {"fsize": resource.RLIMIT_FSIZE, "as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
for item in os.environ.pop("RINGFENCE_RLIMITS", "").split(","):
    if "=" in item:
        name, value = item.split("=", 1)
        resource.setrlimit(RLIMITS[name], (int(value), int(value)))

out_fd = sys.stdout.fileno()
in_fd = sys.stdin.fileno()
sel = selectors.DefaultSelector()
procs = {}  # id -> dict(pid, pidfd, fds{fd:stream}, stdin_fd, status)
EXEC_TAG = "RINGFENCE_EXEC_ID"


def send(obj):
    data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        n = os.write(out_fd, view)
        view = view[n:]


def b64(data):
    return base64.b64encode(data).decode()


def finish_if_done(pid_id):
    p = procs.get(pid_id)
    if p is None or p["status"] is None or p["fds"]:
        return
    code, sig = p["status"]
    send({"ev": "exit", "id": pid_id, "code": code, "signal": sig})
    close_stdin(p)
    del procs[pid_id]


def on_output(fd, pid_id, stream):
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    if data:
        send({"ev": "out", "id": pid_id, "fd": stream, "data": b64(data)})
        return
    sel.unregister(fd)
    os.close(fd)
    p = procs.get(pid_id)
    if p is not None:
        p["fds"].pop(fd, None)
        finish_if_done(pid_id)


def drain_after_exit(pid_id):
    # The main process is gone. Output still buffered is forwarded; a background child that
    # keeps the pipe open must not hold the exec hostage, so the read ends are closed.
    p = procs.get(pid_id)
    if p is None:
        return
    for fd, stream in list(p["fds"].items()):
        os.set_blocking(fd, False)
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            send({"ev": "out", "id": pid_id, "fd": stream, "data": b64(data)})
        sel.unregister(fd)
        os.close(fd)
    p["fds"].clear()
    finish_if_done(pid_id)


def on_exit(pidfd, pid_id):
    sel.unregister(pidfd)
    p = procs[pid_id]
    _, status = os.waitpid(p["pid"], 0)
    os.close(pidfd)
    if os.WIFSIGNALED(status):
        p["status"] = (128 + os.WTERMSIG(status), signal.Signals(os.WTERMSIG(status)).name)
    else:
        p["status"] = (os.WEXITSTATUS(status), None)
    drain_after_exit(pid_id)


def do_exec(req):
    pid_id = req["id"]
    env = dict(req.get("env") or {})
    env[EXEC_TAG] = str(pid_id)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    try:
        # A fork bomb from an earlier exec may still hold the pids limit for a moment while it is
        # being killed: retry EAGAIN briefly (as the C supervisor does) before reporting failure.
        for attempt in range(50):
            try:
                pid = os.fork()
                break
            except BlockingIOError:
                if attempt == 49:
                    raise
                time.sleep(0.02)
    except OSError as e:
        for fd in (out_r, out_w, err_r, err_w, in_r, in_w):
            os.close(fd)
        send({"ev": "result", "id": pid_id, "ok": False, "error": "fork failed: " + e.strerror, "errno": e.errno})
        return
    if pid == 0:
        try:
            os.setsid()
            try:
                # The supervisor is shielded from the OOM killer by the host; its children are not.
                with open("/proc/self/oom_score_adj", "w") as f:
                    f.write("0")
            except OSError:
                pass
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 65536)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.chdir(req.get("cwd") or "/workspace")
            os.execvpe(req["argv"][0], req["argv"], env)
        except OSError as e:
            os.write(2, ("ringfence: cannot run %s: %s\n" % (req["argv"][0], e.strerror)).encode())
            os._exit(127 if e.errno == 2 else 126)
        os._exit(127)
    os.close(in_r)
    os.close(out_w)
    os.close(err_w)
    pidfd = os.pidfd_open(pid)
    entry = {"pid": pid, "pidfd": pidfd, "fds": {out_r: 1, err_r: 2}, "stdin_fd": in_w, "status": None,
             "stdin_buf": b"", "stdin_closing": False, "stdin_registered": False}
    procs[pid_id] = entry
    if req.get("stdin"):
        os.set_blocking(in_w, False)
    else:
        os.close(in_w)
        entry["stdin_fd"] = None
    sel.register(out_r, selectors.EVENT_READ, ("out", pid_id, 1))
    sel.register(err_r, selectors.EVENT_READ, ("out", pid_id, 2))
    sel.register(pidfd, selectors.EVENT_READ, ("exit", pid_id, 0))
    send({"ev": "started", "id": pid_id, "pid": pid})


def kill_exec(pid_id, sig):
    p = procs.get(pid_id)
    if p is None:
        return
    targets = {p["pid"]}
    # Descendants that left the process group (setsid, double fork) still carry the exec tag.
    tag = ("%s=%s" % (EXEC_TAG, pid_id)).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                if tag in f.read().split(b"\0"):
                    targets.add(int(name))
        except OSError:
            pass
    try:
        os.killpg(p["pid"], sig)
    except OSError:
        pass
    for t in targets:
        try:
            os.kill(t, sig)
        except OSError:
            pass


def close_stdin(p):
    fd = p["stdin_fd"]
    if fd is None:
        return
    if p["stdin_registered"]:
        sel.unregister(fd)
        p["stdin_registered"] = False
    os.close(fd)
    p["stdin_fd"] = None


def flush_stdin(pid_id):
    # Non-blocking writes with a pending buffer: a child that does not read its stdin must never
    # stall the supervisor (and with it every other exec of the session).
    p = procs.get(pid_id)
    if p is None or p["stdin_fd"] is None:
        return
    try:
        while p["stdin_buf"]:
            n = os.write(p["stdin_fd"], p["stdin_buf"])
            p["stdin_buf"] = p["stdin_buf"][n:]
    except BlockingIOError:
        pass
    except OSError:
        p["stdin_buf"] = b""
        close_stdin(p)
        return
    if p["stdin_buf"] and not p["stdin_registered"]:
        sel.register(p["stdin_fd"], selectors.EVENT_WRITE, ("stdin", pid_id, 0))
        p["stdin_registered"] = True
    elif not p["stdin_buf"]:
        if p["stdin_registered"]:
            sel.unregister(p["stdin_fd"])
            p["stdin_registered"] = False
        if p["stdin_closing"]:
            close_stdin(p)


def open_regular(path, max_bytes):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(22, "not a regular file")
        chunks, total = [], 0
        while total < max_bytes:
            data = os.read(fd, min(1 << 20, max_bytes - total))
            if not data:
                break
            chunks.append(data)
            total += len(data)
        return b"".join(chunks), st.st_size
    finally:
        os.close(fd)


WORKSPACE = "/workspace"


def inside_workspace(path):
    # Resolve links in the sandbox's own view; anything that lands outside /workspace is refused.
    real = os.path.realpath(path)
    if real != WORKSPACE and not real.startswith(WORKSPACE + "/"):
        raise OSError(18, "resolves outside /workspace")
    return real


def do_file(req):
    op, pid_id, path = req["op"], req["id"], req["path"]
    try:
        if op == "write":
            inside_workspace(os.path.dirname(path))
        else:
            inside_workspace(path)
        if op == "read":
            data, size = open_regular(path, int(req.get("max", 10 << 20)))
            send({"ev": "result", "id": pid_id, "ok": True, "data": b64(data), "size": size})
        elif op == "write":
            data = base64.b64decode(req["data"])
            # O_NOFOLLOW: a symlink at the target is refused, never written through.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(22, "not a regular file")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            send({"ev": "result", "id": pid_id, "ok": True})
        elif op == "list":
            entries = []
            with os.scandir(path) as it:
                for e in it:
                    st = e.stat(follow_symlinks=False)
                    kind = "symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
                    entries.append({"name": e.name, "type": kind, "size": st.st_size})
            send({"ev": "result", "id": pid_id, "ok": True, "entries": entries})
    except OSError as e:
        send({"ev": "result", "id": pid_id, "ok": False, "error": e.strerror or str(e), "errno": e.errno or 0})


buffer = b""


def on_request():
    global buffer
    data = os.read(in_fd, 1 << 20)
    if not data:
        # The host went away: end the session; the pid namespace takes everything with it.
        os._exit(0)
    buffer += data
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        req = json.loads(line)
        op = req["op"]
        if op == "exec":
            do_exec(req)
        elif op == "stdin":
            p = procs.get(req["id"])
            if p is not None and p["stdin_fd"] is not None:
                p["stdin_buf"] += base64.b64decode(req["data"])
                flush_stdin(req["id"])
        elif op == "stdin_end":
            p = procs.get(req["id"])
            if p is not None and p["stdin_fd"] is not None:
                p["stdin_closing"] = True
                flush_stdin(req["id"])
        elif op == "kill":
            kill_exec(req["id"], int(req.get("sig", 9)))
        elif op in ("read", "write", "list"):
            do_file(req)
        elif op == "ping":
            send({"ev": "result", "id": req["id"], "ok": True})


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sel.register(in_fd, selectors.EVENT_READ, ("req", 0, 0))
    send({"ev": "ready", "pid": os.getpid()})
    while True:
        for key, _ in sel.select():
            if sel.get_map().get(key.fd) is not key:
                continue  # unregistered by an earlier event of this batch
            kind, pid_id, stream = key.data
            if kind == "req":
                on_request()
            elif kind == "out":
                on_output(key.fd, pid_id, stream)
            elif kind == "exit":
                on_exit(key.fd, pid_id)
            elif kind == "stdin":
                flush_stdin(pid_id)


main()
