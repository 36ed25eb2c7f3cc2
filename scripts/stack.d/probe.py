#!/usr/bin/env python3
"""Probes for scripts/stack: is a service ready, and which processes belong to a Ray head.

    probe.py kafka PORT                       ApiVersions, then Metadata: the broker answers Kafka
                                              and advertises 127.0.0.1:PORT
    probe.py ray-ready DASHBOARD_PORT AGENT_PORT
                                              GET /api/version (prints the Ray version) and the
                                              dashboard agent's /api/healthz
    probe.py ray-owned OWNER SID              prints the pids of the Ray head whose temp dir is
                                              OWNER, one a line
    probe.py mlflow PORT                      GET /health
    probe.py prometheus PORT                  GET /-/ready
    probe.py alertmanager PORT                GET /-/ready

Exit status 0 when the probe succeeds, 1 when it fails (the reason is the last line on
stderr, in the form `ExceptionType: message`), 2 on a usage error.

Standard library only, so any python3 will do: scripts/stack runs it with ${BATON_PYTHON:-python3}
(a venv's interpreter may live in another user's home). Every address is 127.0.0.1, and no
HTTP request goes through a proxy from the environment.
"""

import argparse
import json
import os
import socket
import struct
import sys
import traceback
import urllib.request

HOST = "127.0.0.1"
TIMEOUT = 3

# --------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------

API_VERSIONS = 18
METADATA = 3
CLIENT_ID = b"baton-stack"


def _recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("broker closed the connection")
        buf += chunk
    return buf


def _kafka_call(sock, api_key, version, correlation_id, body=b""):
    """Send one request (header v1) and return the response body after its correlation id."""
    request = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
    data = _recv_exactly(sock, size)
    if struct.unpack(">i", data[:4])[0] != correlation_id:
        raise AssertionError("correlation id mismatch")
    return data[4:]


def _metadata_brokers(response):
    """The (host, port) pairs of a Metadata v0 response's broker list."""
    (count,) = struct.unpack(">i", response[:4])
    offset, brokers = 4, []
    for _ in range(count):
        _node, host_length = struct.unpack(">ih", response[offset:offset + 6])
        offset += 6
        host = response[offset:offset + host_length].decode()
        offset += host_length
        (port,) = struct.unpack(">i", response[offset:offset + 4])
        offset += 4
        brokers.append((host, port))
    return brokers


def probe_kafka(port):
    """Talk Kafka to the broker on 127.0.0.1:PORT: ApiVersions v0 (what librdkafka 2.0.2 chokes
    on), then Metadata v0 for no topics, and check that the broker advertises the address clients
    will use. An open port alone only means the listener socket exists."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as sock:
        sock.settimeout(TIMEOUT)
        response = _kafka_call(sock, API_VERSIONS, 0, 1)
        if struct.unpack(">h", response[:2])[0] != 0:
            raise AssertionError("ApiVersions error")
        response = _kafka_call(sock, METADATA, 0, 2, struct.pack(">i", 0))
        brokers = _metadata_brokers(response)
        if (HOST, port) not in brokers:
            raise AssertionError(f"broker advertises {brokers}")


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

# No proxy: an http_proxy in the environment must not see loopback requests.
_open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def http_get(port, path):
    """GET http://127.0.0.1:PORT/PATH; the body on a 2xx answer, an exception otherwise."""
    with _open(f"http://{HOST}:{port}{path}", timeout=TIMEOUT) as response:
        return response.read()


def probe_ray_ready(dashboard_port, agent_port):
    """The Ray version, once the dashboard answers GET /api/version (what clients check) and the
    head's dashboard agent, which runs submitted jobs, reports raylet and GCS healthy."""
    version = json.loads(http_get(dashboard_port, "/api/version"))["ray_version"]
    http_get(agent_port, "/api/healthz")
    return version


def probe_mlflow(port):
    """MLflow answers GET /health once its backend store is migrated."""
    http_get(port, "/health")


def probe_prometheus(port):
    """Prometheus (and Alertmanager) answers GET /-/ready once it is ready to serve queries."""
    http_get(port, "/-/ready")


# --------------------------------------------------------------------------------------
# Ray's processes
# --------------------------------------------------------------------------------------


def ray_owned_pids(owner, sid, proc="/proc"):
    """The pids, sorted, of the processes of the Ray head whose temp dir is OWNER.

    Two marks, because neither is enough alone: (1) the session SID of `ray start` (0: none),
    which Ray's own processes stay in -- many of them rewrite their process title, which
    clobbers /proc/PID/environ; (2) BATON_RAY_OWNER=OWNER in the environment, which job drivers
    carry -- Ray starts each in a session of its own -- plus the sessions those drivers lead.
    Zombies are left out (they are dead). The caller's own session is never included, so
    scripts/stack cannot kill itself when run from inside a job.
    """
    marker = b"BATON_RAY_OWNER=" + os.fsencode(owner)
    sessions = {sid} - {0}
    me, my_sid = os.getpid(), os.getsid(0)
    procs = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", "rb") as f:
                stat = f.read()
            state, _ppid, _pgrp, process_sid = stat[stat.rindex(b")") + 2:].split()[:4]
        except (OSError, ValueError):
            continue
        if state == b"Z":
            continue
        try:
            with open(f"{proc}/{entry}/environ", "rb") as f:
                marked = marker in f.read().split(b"\0")
        except OSError:
            marked = False
        procs[int(entry)] = (int(process_sid), marked)
    sessions |= {process_sid for process_sid, marked in procs.values() if marked}
    sessions.discard(my_sid)
    return [
        pid
        for pid, (process_sid, marked) in sorted(procs.items())
        if pid != me and process_sid != my_sid and (marked or process_sid in sessions)
    ]


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _port(text):
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return value


def _print_ray_owned_pids(args):
    for pid in ray_owned_pids(args.owner, args.sid):
        print(pid)


def _parser():
    parser = argparse.ArgumentParser(
        prog="probe.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kafka = commands.add_parser("kafka", help="the Kafka broker on 127.0.0.1:PORT answers and advertises itself")
    kafka.add_argument("port", type=_port, metavar="PORT")
    kafka.set_defaults(run=lambda a: probe_kafka(a.port))

    ray_ready = commands.add_parser("ray-ready", help="the Ray head answers; prints its version")
    ray_ready.add_argument("dashboard_port", type=_port, metavar="DASHBOARD_PORT")
    ray_ready.add_argument("agent_port", type=_port, metavar="AGENT_PORT")
    ray_ready.set_defaults(run=lambda a: print(probe_ray_ready(a.dashboard_port, a.agent_port)))

    ray_owned = commands.add_parser("ray-owned", help="pids of the Ray head whose temp dir is OWNER")
    ray_owned.add_argument("owner", metavar="OWNER", help="the head's temp dir (its BATON_RAY_OWNER)")
    ray_owned.add_argument("sid", type=int, metavar="SID", help="the session of `ray start`, 0 for none")
    ray_owned.set_defaults(run=_print_ray_owned_pids)

    for name, probe, path in (("mlflow", probe_mlflow, "/health"), ("prometheus", probe_prometheus, "/-/ready"),
                              ("alertmanager", probe_prometheus, "/-/ready")):
        command = commands.add_parser(name, help=f"GET http://127.0.0.1:PORT{path} answers 2xx")
        command.add_argument("port", type=_port, metavar="PORT")
        command.set_defaults(run=lambda a, probe=probe: probe(a.port))
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except Exception as error:  # noqa: BLE001 -- every failure is a failed probe, said in one line
        # The last line of a traceback, which is what scripts/stack shows ("last probe error").
        sys.stderr.write(traceback.format_exception_only(type(error), error)[-1])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
