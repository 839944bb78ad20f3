"""The test runner: main(globals()) runs a script's test_* functions in file order, each under
a timeout (timeout(seconds) decorator, default DEFAULT_TIMEOUT), and stops every process the
test started, pass or fail. It prints "ok NAME", "skip NAME: reason" (after skip(reason)) or
"FAIL NAME" with the traceback and the logs of those processes, then "N passed, M failed", and
exits 1 when any test failed."""

import signal
import sys
import traceback

from . import procs
from .gantry import Gantry
from .procs import Backend, _tail

DEFAULT_TIMEOUT = 120


class TestTimeout(Exception):
    pass


class Skip(Exception):
    """Raised (via skip()) by a test that cannot run here; reported as "skip NAME: reason"
    and counted neither as passed nor as failed."""


def skip(reason):
    raise Skip(reason)


def timeout(seconds):
    """Decorator: the test fails after seconds (default 120)."""

    def deco(fn):
        fn._gw_timeout = seconds
        return fn

    return deco


def _on_alarm(signum, frame):
    raise TestTimeout("test timed out")


def _failure_logs(objs):
    out = []
    for obj in objs:
        if isinstance(obj, Gantry):
            out.append(obj.logs())
        elif isinstance(obj, Backend) and _tail(obj.log_path, 40):
            out.append("--- %s log (port %s)\n%s" % (obj.name, obj.port, _tail(obj.log_path, 40)))
        elif getattr(obj, "name", None) == "prometheus" and _tail(obj.log_path, 40):
            out.append("--- prometheus log (port %s)\n%s" % (obj.port, _tail(obj.log_path, 40)))
    return "\n".join(out)


def _run_one(fn):
    limit = getattr(fn, "_gw_timeout", DEFAULT_TIMEOUT)
    scope = []
    with procs._lock:
        procs._scope = scope  # procs._track adds what the test starts
    error = None
    old = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Skip as e:
        error = Skip(str(e))
    except TestTimeout:
        error = "timed out after %s s\n%s" % (limit, traceback.format_exc())
    except Exception:
        error = traceback.format_exc()
    finally:
        signal.signal(signal.SIGALRM, old)
        with procs._lock:
            procs._scope = None
        if isinstance(error, str):
            logs = _failure_logs(scope)  # log files outlive the processes
            if logs:
                error += logs + "\n"
        for obj in reversed(scope):
            obj._kill_quietly()
    return error


def main(namespace, argv=None):
    """Runs the test_* functions of namespace in definition order (argv: names or -k
    SUBSTRING to select). Prints "ok NAME", "skip NAME: reason" or "FAIL NAME" with the
    traceback, then "N passed, M failed", and exits 1 when any failed."""
    argv = sys.argv[1:] if argv is None else list(argv)
    names = [n for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if argv:
        if argv[0] == "-k" and len(argv) == 2:
            names = [n for n in names if argv[1] in n]
        else:
            unknown = [a for a in argv if a not in names]
            if unknown:
                print("unknown test(s): %s" % ", ".join(unknown))
                sys.exit(2)
            names = [n for n in names if n in argv]
    passed = failed = 0
    for name in names:
        error = _run_one(namespace[name])
        if error is None:
            passed += 1
            print("ok %s" % name, flush=True)
        elif isinstance(error, Skip):
            print("skip %s: %s" % (name, error), flush=True)
        else:
            failed += 1
            print("FAIL %s\n%s" % (name, error.rstrip("\n")), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
