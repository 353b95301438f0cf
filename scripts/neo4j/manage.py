#!/usr/bin/env python3
"""Build, start and stop a throwaway Neo4j 5 Community server on 127.0.0.1, without Docker.

The server is Neo4j embedded in a small Java program (``src/``) with its Bolt connector on, built
with Maven from Maven Central into ``target/`` (JDK 17 and Maven needed). Its data, logs and
state live under a home folder, by default ``scripts/neo4j/run/default/``.

    python scripts/neo4j/manage.py build              # mvn package (also done by start)
    eval "$(python scripts/neo4j/manage.py start)"     # start in the background, export NEO4J_*
    python scripts/neo4j/manage.py status
    python scripts/neo4j/manage.py stop               # SIGTERM -> clean shutdown
    python scripts/neo4j/manage.py start --foreground # run until Ctrl-C

``start`` picks a free port (or ``--port``), waits until Bolt answers and prints
``export NEO4J_URI=bolt://127.0.0.1:PORT`` plus user and password. Starting again on the same
home keeps the data (and reuses the port if it is free). Auth is on with user ``neo4j`` and
password ``ntm-explorer-test`` unless ``--password``/``--no-auth`` say otherwise; the password
is fixed when a home is first started.

From Python (the tests): ``Neo4jServer(home).start()``, ``.stop()``, ``.stop(kill=True)``
(a crash), ``.start()`` again on the same home and port, ``.uri``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "target"
RUN_DIR = HERE / "run"
MAIN_CLASS = "org.ntmexplorer.neo4j.ThrowawayNeo4j"
DEFAULT_USER = "neo4j"
DEFAULT_PASSWORD = "ntm-explorer-test"
JVM_OPTIONS = [
    "-Xms256m", "-Xmx1g",                       # a test server on a shared 2-core machine
    "-XX:+UseSerialGC",                          # one GC thread: leave the other core to the tests
    "-XX:+ExitOnOutOfMemoryError",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dfile.encoding=UTF-8",
]


class Neo4jServerError(RuntimeError):
    """The throwaway server could not be built, started or stopped; the message says what to do."""


# ----------------------------------------------------------------------------- build


def _sources() -> list[Path]:
    return [HERE / "pom.xml", *sorted((HERE / "src").rglob("*.java"))]


def _built_marker() -> Path:
    return TARGET / "lib" / ".built"


def is_built() -> bool:
    marker = _built_marker()
    if not marker.exists() or not (TARGET / "classes").is_dir():
        return False
    return all(src.stat().st_mtime <= marker.stat().st_mtime for src in _sources())


def build(force: bool = False, quiet: bool = True) -> None:
    """``mvn package`` the server into target/ unless it is already built from these sources."""
    if not force and is_built():
        return
    for tool, hint in (("java", "a JDK 17"), ("mvn", "Maven")):
        if shutil.which(tool) is None:
            raise Neo4jServerError(
                f"'{tool}' is not on PATH: the throwaway Neo4j server needs {hint} to build and run "
                "(Debian: apt-get install openjdk-17-jdk-headless maven), or point NEO4J_URI at a running Neo4j 5")
    cmd = ["mvn", "-B", "-f", str(HERE / "pom.xml"), "package"]
    if quiet:
        cmd.insert(1, "-q")
    proc = subprocess.run(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise Neo4jServerError(
            f"building the throwaway Neo4j server failed ({' '.join(cmd)} exited {proc.returncode}); "
            f"check that Maven Central is reachable. Last lines:\n{tail}")
    _built_marker().touch()


def classpath() -> str:
    return os.pathsep.join([str(TARGET / "classes"), str(TARGET / "lib" / "*")])


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class Neo4jServer:
    """One throwaway server with its data in ``home``.

    ``exit_with_parent``: the server shuts itself down when this Python process ends (tests).
    """

    def __init__(self, home: str | os.PathLike | None = None, port: int | None = None,
                 password: str = DEFAULT_PASSWORD, auth: bool = True, exit_with_parent: bool = False):
        self.home = Path(home) if home is not None else RUN_DIR / "default"
        self.state_file = self.home / "server.json"
        self.log_file = self.home / "server.out"
        self.port = port
        self.password = password
        self.auth = auth
        self.exit_with_parent = exit_with_parent
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        if self.port is None:
            raise Neo4jServerError("the server has no port yet: start it first")
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def user(self) -> str:
        return DEFAULT_USER

    def env(self) -> dict[str, str]:
        """NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD for this server."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password}

    # -- state shared with other invocations of this script -------------------------------
    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        state = self._read_state()
        return bool(state and state.get("pid") and _pid_alive(state["pid"]))

    def start(self, timeout: float = 180.0) -> "Neo4jServer":
        """Build if needed, start, and return once Bolt answers (Neo4jServerError otherwise)."""
        state = self._read_state()
        if state and state.get("pid") and _pid_alive(state["pid"]):
            self.pid, self.port, self.password = state["pid"], state["port"], state["password"]
            return self
        build()
        if shutil.which("java") is None:
            raise Neo4jServerError("'java' is not on PATH: the throwaway Neo4j server needs a JDK 17 "
                                   "(Debian: apt-get install openjdk-17-jdk-headless)")
        self.home.mkdir(parents=True, exist_ok=True)
        if self.port is None and state and state.get("port") and port_is_free(state["port"]):
            self.port = state["port"]               # same address after a restart
        if self.port is None:
            self.port = free_port()
        cmd = ["java", *JVM_OPTIONS, "-cp", classpath(), MAIN_CLASS,
               "--home", str(self.home.resolve()), "--port", str(self.port), "--password", self.password]
        if not self.auth:
            cmd.append("--no-auth")
        if self.exit_with_parent:
            cmd += ["--exit-with", str(os.getpid())]
        log = open(self.log_file, "wb")
        try:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        finally:
            log.close()
        self.pid = self._proc.pid
        self.state_file.write_text(json.dumps({"pid": self.pid, "port": self.port, "uri": self.uri,
                                               "user": self.user, "password": self.password}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise Neo4jServerError(
                    f"the throwaway Neo4j server exited with code {self._proc.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self._tail()}\n(see also {self.home / 'logs' / 'debug.log'})")
            if b"BOLT_READY" in self.log_file.read_bytes() and self._bolt_answers():
                return self
            time.sleep(0.25)
        self.stop(kill=True)
        raise Neo4jServerError(f"the throwaway Neo4j server did not answer on {self.uri} within {timeout:.0f} s; "
                               f"last lines of {self.log_file}:\n{self._tail()}")

    def _bolt_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(b"\x60\x60\xb0\x17" + b"\x00\x00\x04\x05" + b"\x00" * 12)  # Bolt handshake
                return len(s.recv(4)) == 4
        except OSError:
            return False

    def _tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no output)"

    def stop(self, timeout: float = 60.0, kill: bool = False) -> None:
        """SIGTERM and wait for the clean shutdown (SIGKILL after ``timeout``), or with
        ``kill=True`` SIGKILL at once, as a crash would. The data stays in ``home``."""
        pid = self.pid
        if pid is None:
            state = self._read_state()
            pid = state.get("pid") if state else None
        if pid is None or not _pid_alive(pid):
            self._forget()
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.1)
        self._forget()

    def _forget(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._proc = None
        self.pid = None
        # Keep the port (and only it): the next start on this home reuses it when it is free, so an
        # exported NEO4J_URI stays right across stop/start.
        state = self._read_state()
        port = self.port or (state or {}).get("port")
        if port:
            self.state_file.write_text(json.dumps({"pid": None, "port": port}))
        else:
            self.state_file.unlink(missing_ok=True)

    def __enter__(self) -> "Neo4jServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="mvn package the server (only if sources changed)")
    for name in ("start", "stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("--home", default=str(RUN_DIR / "default"), help="data/log folder (default: %(default)s)")
        if name == "start":
            p.add_argument("--port", type=int, default=None, help="Bolt port (default: a free one)")
            p.add_argument("--password", default=DEFAULT_PASSWORD, help="password of user neo4j")
            p.add_argument("--no-auth", action="store_true", help="no authentication")
            p.add_argument("--foreground", action="store_true", help="run until Ctrl-C / SIGTERM")
            p.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build(force=True, quiet=False)
            return 0
        server = Neo4jServer(args.home, port=getattr(args, "port", None))
        if args.command == "status":
            state = server._read_state()
            if server.running():
                print(f"running: {state['uri']} (pid {state['pid']})")
                return 0
            print("not running")
            return 1
        if args.command == "stop":
            server.stop()
            print("stopped", file=sys.stderr)
            return 0
        server.password, server.auth = args.password, not args.no_auth
        server.start(timeout=args.timeout)
        print(f"Neo4j {server.uri} is up (home {server.home}, pid {server.pid})", file=sys.stderr)
        for key, value in server.env().items():
            print(f"export {key}={value}")
        if args.foreground:
            stop = lambda *_: (server.stop(), sys.exit(0))   # noqa: E731
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            while server.running():
                time.sleep(1)
            print("the server exited", file=sys.stderr)
            return 1
        return 0
    except Neo4jServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
