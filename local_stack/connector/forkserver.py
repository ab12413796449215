"""A warm parent for the connector's runs (started by runner.py with the connector venv's python;
never imported by our own code). Every `source-hubspot` process spends most of its start-up
importing the CDK and pre-processing the connector's manifest (resolving references, then a
deep copy per component), the same work on every run: about 6 of a discover's 7 s on an idle
core. This process does the imports once, keeps the pre-processed manifest, and forks one child
per run; the child is the run, exactly as `source-hubspot <command> ...` would do it (its own
argv, environment, working directory, stdout and stderr, exit code), except that
ConcurrentDeclarativeSource._pre_process_manifest answers its first call with the parent's
result when its input is the same manifest (the method is a pure function of it, and the child
owns its copy of the memory). HUBSPOT_CONNECTOR_FORKSERVER=0 runs every command as a fresh
process instead.

Protocol, one Unix-socket connection per run: the client sends one JSON line
{"argv", "env", "cwd"} together with two file descriptors (SCM_RIGHTS: the child's stdout and
stderr); the server answers {"pid": n} when the child is forked and {"returncode": n} (as
subprocess gives it: negative for a signal) when it has exited. The server exits when its stdin
closes (the process that started it is gone)."""
from __future__ import annotations

import json
import os
import select
import socket
import sys


def _warm():
    import copy

    from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
        ConcurrentDeclarativeSource,
    )
    from source_hubspot import SourceHubspot
    from source_hubspot import run as _run  # noqa: F401 - imported once here, for every child

    original = ConcurrentDeclarativeSource._pre_process_manifest
    shell = object.__new__(SourceHubspot)
    manifest = shell._read_and_parse_yaml_file("manifest.yaml")
    key = json.dumps(manifest, sort_keys=True, default=str)
    processed = original(shell, copy.deepcopy(manifest))
    unused = [True]  # per child: the parent's result serves its first call only

    def pre_process(self, manifest):
        if unused[0] and json.dumps(manifest, sort_keys=True, default=str) == key:
            unused[0] = False
            return processed
        return original(self, manifest)

    ConcurrentDeclarativeSource._pre_process_manifest = pre_process


def _child(request: dict, out_fd: int, err_fd: int, closing: list) -> None:
    for fd in closing:
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    for fd in (devnull, out_fd, err_fd):
        os.close(fd)
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        # sys.stdout/stderr stay the objects the CDK's log handlers already hold (their buffers
        # are empty): they now write to the run's descriptors, block- and line-buffered as at a
        # fresh start-up on a pipe and a file.
        sandbox = os.environ.get("HUBSPOT_SANDBOX_URL")
        if sandbox:  # what sitecustomize does at a fresh process's start-up
            import sitecustomize

            sitecustomize._SANDBOX = sandbox.rstrip("/")
            sitecustomize._install()
        from source_hubspot.run import run

        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the interpreter's top level: report, exit 1
            sys.excepthook(*sys.exc_info())
            code = 1
        import atexit
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # as at exit: join non-daemon threads
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def main(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _warm()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    clients: dict[int, socket.socket] = {}      # child pid -> its client's connection
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 0.05)
        if sys.stdin in ready and not sys.stdin.readline():
            break
        if listener in ready:
            conn, _ = listener.accept()
            conn.settimeout(30)
            try:
                msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
                request = json.loads(msg)
            except (OSError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                _child(request, fds[0], fds[1],
                       [listener.fileno(), conn.fileno()] + [c.fileno() for c in clients.values()])
            for fd in fds:
                os.close(fd)
            clients[pid] = conn
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        while clients:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = clients.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)})
                                 .encode() + b"\n")
                except OSError:
                    pass
                conn.close()
    listener.close()
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


if __name__ == "__main__":
    main(sys.argv[1])
