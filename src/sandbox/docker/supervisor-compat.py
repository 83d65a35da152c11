# ringfence supervisor launcher for container runtimes: runs the bubblewrap driver's supervisor
# unchanged, first supplying os.pidfd_open where the kernel lacks it (gVisor's runsc 2022 returns
# ENOSYS). The stand-in "pidfd" is the read end of a pipe written to when SIGCHLD finds the
# child exited; the child stays a zombie (WNOWAIT) so the supervisor's own waitpid still works.
import os, runpy, signal, sys

SUPERVISOR = sys.argv[1] if len(sys.argv) > 1 else "/.ringfence/supervisor.py"


def native_pidfd_works():
    try:
        os.close(os.pidfd_open(os.getpid()))
        return True
    except (AttributeError, OSError):
        return False


if not native_pidfd_works():
    watched = {}  # pid -> write end of its pipe

    def check(pid):
        w = watched.get(pid)
        if w is None:
            return
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = True
        if info is not None:
            del watched[pid]
            os.write(w, b"x")
            os.close(w)

    def on_sigchld(_sig, _frame):
        for pid in list(watched):
            check(pid)

    signal.signal(signal.SIGCHLD, on_sigchld)

    def pidfd_open(pid, flags=0):
        r, w = os.pipe()
        os.set_inheritable(r, False)
        os.set_inheritable(w, False)
        watched[pid] = w
        check(pid)
        return r

    os.pidfd_open = pidfd_open

sys.argv = [SUPERVISOR]
runpy.run_path(SUPERVISOR, run_name="__main__")
