"""Tests of scripts/stack.d/probe.py, the readiness probes and Ray process sweep of scripts/stack.

Each test runs probe.py as scripts/stack does (a separate interpreter, arguments on the command
line) against real loopback servers started here: a tiny Kafka broker that speaks ApiVersions v0
and Metadata v0, an http.server, a closed port, and real processes for `ray-owned`. What the
stack relies on is checked: the exit status, stdout (the Ray version, the pids), and one readable
last line on stderr.

Run with ``python3 -m pytest tests -q``.
"""

import contextlib
import http.server
import json
import os
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROBE = ROOT / "scripts" / "stack.d" / "probe.py"


def run_probe(*args, env=None):
    return subprocess.run(
        [sys.executable, str(PROBE), *map(str, args)], capture_output=True, text=True, timeout=30, env=env
    )


def last_error_line(result):
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# A tiny Kafka broker
# --------------------------------------------------------------------------------------


class FakeBroker:
    """Answers ApiVersions v0 and Metadata v0 on a loopback port, one connection at a time.

    advertise(port) -> [(host, port)] is the broker list of the Metadata answer; api_error is
    ApiVersions' error code; correlation_offset is added to the correlation id of the answers;
    close_after: the connection is closed without an answer after that many requests.
    """

    def __init__(self, advertise=None, api_error=0, correlation_offset=0, close_after=None):
        self.advertise = advertise or (lambda port: [("127.0.0.1", port)])
        self.api_error = api_error
        self.correlation_offset = correlation_offset
        self.close_after = close_after
        self.requests = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._handle(conn)

    def _handle(self, conn):
        while self.close_after is None or len(self.requests) < self.close_after:
            header = self._recv(conn, 4)
            if header is None:
                return
            (size,) = struct.unpack(">i", header)
            request = self._recv(conn, size)
            api_key, version, correlation_id, client_length = struct.unpack(">hhih", request[:10])
            client = request[10:10 + client_length]
            body = request[10 + client_length:]
            self.requests.append((api_key, version, correlation_id, client, body))
            if api_key == 18:
                answer = struct.pack(">hi", self.api_error, 0)
            elif api_key == 3:
                brokers = self.advertise(self.port)
                answer = struct.pack(">i", len(brokers))
                for node, (host, port) in enumerate(brokers):
                    answer += struct.pack(">ih", node, len(host)) + host.encode() + struct.pack(">i", port)
                answer += struct.pack(">i", 0)  # no topics
            else:
                return
            answer = struct.pack(">i", correlation_id + self.correlation_offset) + answer
            conn.sendall(struct.pack(">i", len(answer)) + answer)

    @staticmethod
    def _recv(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def close(self):
        self.listener.close()


@contextlib.contextmanager
def fake_broker(**options):
    broker = FakeBroker(**options)
    try:
        yield broker
    finally:
        broker.close()


def test_kafka_succeeds_when_the_broker_answers_and_advertises_itself():
    with fake_broker() as broker:
        result = run_probe("kafka", broker.port)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    # ApiVersions v0, then Metadata v0 for no topics, with our client id and fresh correlation ids.
    assert broker.requests == [
        (18, 0, 1, b"baton-stack", b""),
        (3, 0, 2, b"baton-stack", struct.pack(">i", 0)),
    ]


def test_kafka_finds_itself_among_several_advertised_brokers():
    with fake_broker(advertise=lambda port: [("10.0.0.7", 9092), ("127.0.0.1", port)]) as broker:
        assert run_probe("kafka", broker.port).returncode == 0


def test_kafka_fails_when_the_broker_advertises_another_address():
    with fake_broker(advertise=lambda port: [("localhost", port)]) as broker:
        result = run_probe("kafka", broker.port)
    assert result.returncode == 1
    assert last_error_line(result) == f"AssertionError: broker advertises [('localhost', {broker.port})]"


def test_kafka_fails_on_an_api_versions_error():
    with fake_broker(api_error=35) as broker:
        result = run_probe("kafka", broker.port)
    assert result.returncode == 1
    assert last_error_line(result) == "AssertionError: ApiVersions error"
    assert len(broker.requests) == 1


def test_kafka_fails_on_a_correlation_id_mismatch():
    with fake_broker(correlation_offset=7) as broker:
        result = run_probe("kafka", broker.port)
    assert result.returncode == 1
    assert last_error_line(result) == "AssertionError: correlation id mismatch"


def test_kafka_fails_when_the_broker_hangs_up():
    with fake_broker(close_after=1) as broker:
        result = run_probe("kafka", broker.port)
    assert result.returncode == 1
    # Whether the hang-up reads as an end of stream or a reset depends on when the close lands.
    assert last_error_line(result) in (
        "EOFError: broker closed the connection",
        "ConnectionResetError: [Errno 104] Connection reset by peer",
    )


def test_kafka_fails_on_a_closed_port(closed_port):
    result = run_probe("kafka", closed_port)
    assert result.returncode == 1
    assert last_error_line(result).startswith("ConnectionRefusedError:")
    assert result.stdout == ""


# --------------------------------------------------------------------------------------
# HTTP probes
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def http_server(routes):
    """Serve GET PATH -> (status, body) from routes on a loopback port; unknown paths are 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command, path", [("mlflow", "/health"), ("prometheus", "/-/ready")])
def test_http_probe_succeeds_on_200(command, path):
    with http_server({path: (200, b"OK")}) as port:
        result = run_probe(command, port)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("command, path", [("mlflow", "/health"), ("prometheus", "/-/ready")])
def test_http_probe_fails_on_an_error_status(command, path):
    with http_server({path: (503, b"starting")}) as port:
        result = run_probe(command, port)
    assert result.returncode == 1
    assert last_error_line(result) == "urllib.error.HTTPError: HTTP Error 503: Service Unavailable"


def test_http_probes_ask_their_own_path():
    # A server that is ready for Prometheus is not MLflow, and the other way round.
    with http_server({"/-/ready": (200, b"")}) as port:
        assert run_probe("prometheus", port).returncode == 0
        assert run_probe("mlflow", port).returncode == 1


@pytest.mark.parametrize("command", ["mlflow", "prometheus"])
def test_http_probe_fails_on_a_closed_port(command, closed_port):
    result = run_probe(command, closed_port)
    assert result.returncode == 1
    assert "Connection refused" in last_error_line(result)


def test_http_probes_ignore_a_proxy_in_the_environment(closed_port):
    env = dict(os.environ, http_proxy=f"http://127.0.0.1:{closed_port}", HTTP_PROXY=f"http://127.0.0.1:{closed_port}")
    with http_server({"/health": (200, b"OK")}) as port:
        assert run_probe("mlflow", port, env=env).returncode == 0


def test_ray_ready_prints_the_version_when_dashboard_and_agent_answer():
    version = json.dumps({"ray_version": "2.60.0", "version": "4"}).encode()
    with http_server({"/api/version": (200, version)}) as dashboard, http_server({"/api/healthz": (200, b"ok")}) as agent:
        result = run_probe("ray-ready", dashboard, agent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2.60.0\n"


def test_ray_ready_fails_while_the_agent_does_not_answer(closed_port):
    with http_server({"/api/version": (200, b'{"ray_version": "2.60.0"}')}) as dashboard:
        result = run_probe("ray-ready", dashboard, closed_port)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Connection refused" in last_error_line(result)


def test_ray_ready_fails_while_the_agent_is_unhealthy():
    with (
        http_server({"/api/version": (200, b'{"ray_version": "2.60.0"}')}) as dashboard,
        http_server({"/api/healthz": (503, b"raylet unhealthy")}) as agent,
    ):
        result = run_probe("ray-ready", dashboard, agent)
    assert result.returncode == 1
    assert result.stdout == ""


def test_ray_ready_fails_when_the_dashboard_does_not_name_a_version():
    with http_server({"/api/version": (200, b"{}")}) as dashboard, http_server({"/api/healthz": (200, b"")}) as agent:
        result = run_probe("ray-ready", dashboard, agent)
    assert result.returncode == 1
    assert last_error_line(result) == "KeyError: 'ray_version'"


def test_ray_ready_fails_on_a_closed_dashboard(closed_port):
    with http_server({"/api/healthz": (200, b"")}) as agent:
        result = run_probe("ray-ready", closed_port, agent)
    assert result.returncode == 1 and result.stdout == ""


# --------------------------------------------------------------------------------------
# ray-owned: which processes belong to a head
# --------------------------------------------------------------------------------------


@pytest.fixture
def processes():
    """Start processes for a test (Popen keyword arguments); every one is killed afterwards."""
    started = []

    def start(command, owner=None, new_session=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if owner is not None:
            env["BATON_RAY_OWNER"] = str(owner)
        process = subprocess.Popen(command, env=env, start_new_session=new_session)
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            if os.getsid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


def owned(owner, sid=0):
    result = run_probe("ray-owned", owner, sid)
    assert result.returncode == 0, result.stderr
    return [int(line) for line in result.stdout.splitlines()]


def children_of(pid):
    wait_until(lambda: pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return [int(c) for c in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def proc_state(pid):
    stat = pathlib.Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rindex(b")") + 2:].split()[0]


def test_ray_owned_finds_marked_processes_and_their_sessions(tmp_path, processes):
    owner = tmp_path / "ray"
    # A job driver: marked, leading a session of its own, with an unmarked child (a process
    # that rewrote its title has no readable mark) in that session.
    driver = processes(["sh", "-c", "env -i sleep 60 & exec sleep 60"], owner=owner)
    child = children_of(driver.pid)[0]
    # Another head's driver, and an unmarked process in a session of its own: not ours.
    other = processes(["sleep", "60"], owner=f"{owner}-other")
    stranger = processes(["sleep", "60"])
    wait_until(lambda: len(owned(owner)) == 2)
    pids = owned(owner)
    assert pids == sorted([driver.pid, child])
    assert other.pid not in pids and stranger.pid not in pids


def test_ray_owned_finds_the_session_of_ray_start(tmp_path, processes):
    owner = tmp_path / "ray"
    # `ray start`: unmarked (its processes rewrite their titles), leads the session named by SID.
    head = processes(["sh", "-c", "sleep 60 & exec sleep 60"])
    worker = children_of(head.pid)[0]
    assert owned(owner, sid=head.pid) == sorted([head.pid, worker])
    assert owned(owner, sid=0) == []


def test_ray_owned_leaves_out_the_callers_session(tmp_path, processes):
    owner = tmp_path / "ray"
    # Marked, but in the session of the caller (pytest, and so probe.py): a stack run from inside
    # a job must not kill itself.
    in_my_session = processes(["sleep", "60"], owner=owner, new_session=False)
    assert in_my_session.pid not in owned(owner)
    assert owned(owner, sid=os.getsid(0)) == []


def test_ray_owned_leaves_out_zombies(tmp_path, processes):
    owner = tmp_path / "ray"
    done = processes(["true"], owner=owner)
    wait_until(lambda: proc_state(done.pid) == b"Z")  # exited, not reaped yet
    assert done.pid not in owned(owner)
    assert done.pid not in owned(owner, sid=done.pid)


def test_ray_owned_prints_nothing_when_nothing_is_owned(tmp_path):
    result = run_probe("ray-owned", tmp_path / "nobody", 0)
    assert (result.returncode, result.stdout) == (0, "")


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [[], ["kafka"], ["kafka", "not-a-port"], ["kafka", "70000"], ["ray-ready", "8265"], ["nonsense"]]
)
def test_usage_errors_exit_2(args):
    result = run_probe(*args)
    assert result.returncode == 2
    assert "usage: probe.py" in result.stderr
