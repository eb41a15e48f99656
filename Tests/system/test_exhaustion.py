"""Exhaustion as unprivileged users (issue 12, item 5), against the real daemon binary with its
default connection limits: thousands of connections held open, slow writers (one byte a second),
oversize and garbage frames, half-closed connections and a stream of requests for nonexistent
accounts, all at once, each kind from processes of its own users. Meanwhile root verifies right
codes over root's socket: every answer is OK and the p99 latency stays within 100 ms; the
daemon's memory stays under a stated bound, and once the attack stops every connection it made is
released and the daemon still answers. EXHAUSTION_SECONDS sets the attack's length (make
check-security: 120); EXHAUSTION_FIGURES names a file for the run's figures."""

import base64
import json
import math
import os
import secrets
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from conftest import Daemon, as_user, totp
from test_import_oath import import_oath, users_file
import wire

SECONDS = int(os.environ.get("EXHAUSTION_SECONDS", "12"))
CONNECTIONS_MAX, PER_UID, REQUEST_TIMEOUT = 512, 16, 5  # the defaults of `connections:` in totpd.conf
# 36 uids may hold 576 connections, more than `max`: the flood meets both limits.
FLOOD_USERS = 36
FLOOD_WAVE, FLOOD_BURSTS = 100, 10  # connections each flood user opens within a second, each wave
WAVE_SECONDS = REQUEST_TIMEOUT + 3
HELD_AT = 2  # seconds into a wave: refused connections are answered by then, admitted ones still open
SLOW_WRITERS = 2 * PER_UID
ROOT_RATE = 10  # root verifications a second: 1200 samples in the long form
P99_LIMIT_MS = 100
# What the limits let attackers make the daemon hold: 512 connections, each with NIO's channel
# and at most a 4096-byte unfinished request, about 12 KiB (measured: 2,680 such connections,
# with the limits raised, took 31 MiB), so about 6 MiB. The bound is four times that above the
# idle daemon: room for allocator caches, crossed by some 2,000 connections held or by growth with
# time (a buffer kept per refused connection, a leak per request) in the long form.
MEMORY_GROWTH_LIMIT_MIB = 24
MAX_REQUEST = 4096  # bytes of a request body (docs/PROTOCOL.md)


def refused(answer):
    """Whether `answer` (bytes read) is the daemon's DENIED frame for a connection over a limit."""
    return len(answer) >= 6 and wire.RESULT.get(answer[5]) == "DENIED"


def connect(path, timeout=REQUEST_TIMEOUT + 2):
    """A connection as an ordinary client makes it: waiting (up to `timeout`) while the accept
    queue is full, then reading with that timeout."""
    connection = socket.socket(socket.AF_UNIX)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", timeout, 0))
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        raise
    connection.settimeout(timeout)
    return connection


def rest(connection):
    """What a connection the daemon has answered or closed still has to read."""
    try:
        return connection.recv(64)
    except OSError:
        return b""


def hold_connections(path, user, until, opening=b""):
    """Waves of connections that send nothing more than `opening`: the daemon admits up to the
    limits, refuses the rest at once, and must close the admitted ones at the request timeout.
    `held` has, per wave, how many were still open HELD_AT seconds in."""
    counts = {"attempted": 0, "queue_full": 0, "denied": 0, "cut_off": 0, "held": [], "outlived_timeout": 0}
    while time.monotonic() < until:
        wave_started = time.monotonic()
        wave_end = min(wave_started + WAVE_SECONDS, until)
        open_, poller = {}, select.poll()
        for burst in range(FLOOD_BURSTS):
            for _ in range(FLOOD_WAVE // FLOOD_BURSTS):
                connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                counts["attempted"] += 1
                try:
                    connection.connect(path)
                except BlockingIOError:
                    counts["queue_full"] += 1
                    connection.close()
                    continue
                try:
                    connection.send(opening)
                except OSError:
                    pass  # refused and closed already
                open_[connection.fileno()] = connection
                poller.register(connection, select.POLLIN)
            time.sleep(max(0.0, wave_started + (burst + 1) / FLOOD_BURSTS - time.monotonic()))
        counted = False
        while time.monotonic() < wave_end:
            if not counted and time.monotonic() >= wave_started + HELD_AT:
                counts["held"].append(len(open_))
                counted = True
            for descriptor, _ in poller.poll(100):
                connection = open_.pop(descriptor)
                poller.unregister(descriptor)
                counts["denied" if refused(rest(connection)) else "cut_off"] += 1
                connection.close()
        if wave_end - wave_started >= WAVE_SECONDS:
            counts["outlived_timeout"] += len(open_)
        for connection in open_.values():
            connection.close()
    return counts


def hold_filled_connections(path, user, until):
    """Held connections that make the daemon buffer the most it will: all but the last byte of a
    request of the largest size."""
    return hold_connections(path, user, until, struct.pack(">I", MAX_REQUEST) + bytes(MAX_REQUEST - 1))


def write_slowly(path, user, until):
    """Connections that each send a valid request one byte a second, too slow to finish within
    the request timeout; `longest_open_s` is the longest the daemon kept one of them open."""
    request = wire.frame("VERIFY", [("USER", user.encode()), ("CODE", b"123456")])
    counts = {"started": 0, "bytes": 0, "denied": 0, "cut_off": 0, "answered": 0, "longest_open_s": 0.0}
    writers = {}  # connection: (opened at, bytes sent)

    def finish(connection, answer):
        opened, _ = writers.pop(connection)
        counts["denied" if refused(answer) else "answered" if answer else "cut_off"] += 1
        if not refused(answer):
            counts["longest_open_s"] = max(counts["longest_open_s"], time.monotonic() - opened)
        connection.close()

    while time.monotonic() < until:
        tick = time.monotonic()
        while len(writers) < SLOW_WRITERS:
            connection = connect(path)
            connection.setblocking(False)
            writers[connection] = (time.monotonic(), 0)
            counts["started"] += 1
        for connection, (opened, sent) in list(writers.items()):
            try:
                connection.send(request[sent:sent + 1])
                writers[connection] = (opened, sent + 1)
                counts["bytes"] += 1
            except OSError:
                finish(connection, rest(connection))
        ready, _, _ = select.select(list(writers), [], [], max(0.0, tick + 1 - time.monotonic()))
        for connection in ready:
            finish(connection, rest(connection))
        time.sleep(max(0.0, tick + 1 - time.monotonic()))
    for connection, (opened, _) in writers.items():
        counts["longest_open_s"] = max(counts["longest_open_s"], time.monotonic() - opened)
        connection.close()
    return counts


def answer_to(path, data, half_close=False):
    """Sends `data` on a new connection (then shuts down writing, if asked) and reads to the end:
    b"" when the daemon closed without answering, None when it kept the connection open or never
    accepted it."""
    try:
        connection = connect(path)
    except BlockingIOError:
        return None
    with connection:
        try:
            if data:
                connection.sendall(data)
            if half_close:
                connection.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed already: its answer, if any, is still there to read
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except socket.timeout:
            return None
        except ConnectionResetError:
            pass
        return received


def tally(counts, answer):
    if answer is None:
        key = "kept_open"
    elif not answer:
        key = "closed_unanswered"
    else:
        result, fields = wire.parse(answer[4:])
        over_limit = refused(answer) and "too many connections" in (wire.string(fields, "MESSAGE") or "")
        key = "over_limit" if over_limit else result
    counts[key] = counts.get(key, 0) + 1


def send_malformed(path, user, until):
    """Oversize length fields (refused before any body is read) and garbage, one a connection."""
    oversize = [struct.pack(">I", 0xFFFFFFFF),
                struct.pack(">I", MAX_REQUEST + 1) + bytes([1, 1]) + secrets.token_bytes(200),
                struct.pack(">I", 1 << 20) + secrets.token_bytes(MAX_REQUEST)]
    counts = {"oversize": 0, "garbage": 0}
    while time.monotonic() < until:
        for payload in oversize:
            counts["oversize"] += 1
            tally(counts, answer_to(path, payload))
        for payload in (secrets.token_bytes(64), struct.pack(">I", 32) + secrets.token_bytes(32), struct.pack(">I", 0)):
            counts["garbage"] += 1
            tally(counts, answer_to(path, payload))
    return counts


def half_close(path, user, until):
    """Connections shut for writing after a valid request, or before sending anything."""
    request = wire.frame("STATUS", [("USER", user.encode())])
    counts = {"after_request": 0, "before_request": 0}
    while time.monotonic() < until:
        counts["after_request"] += 1
        tally(counts, answer_to(path, request, half_close=True))
        counts["before_request"] += 1
        tally(counts, answer_to(path, b"", half_close=True))
    return counts


def ask_for_nobody(path, user, until):
    """VERIFY and STATUS for account names no directory knows, a fresh name each time."""
    counts = {"requests": 0}
    while time.monotonic() < until:
        name = ("nobody" + secrets.token_hex(6)).encode()
        for request in (wire.frame("VERIFY", [("USER", name), ("CODE", b"123456")]),
                        wire.frame("STATUS", [("USER", name)])):
            counts["requests"] += 1
            tally(counts, answer_to(path, request))
    return counts


ATTACKS = {"flood": hold_connections, "flood_filled": hold_filled_connections, "slow": write_slowly,
           "malformed": send_malformed, "half_close": half_close, "nonexistent": ask_for_nobody}


def attack_when_told():
    """An attacker process's main: says it is ready, reads the monotonic time to stop at, attacks
    until then and prints its counts."""
    kind, path, user = sys.argv[1:4]
    print("ready", flush=True)
    print(json.dumps(ATTACKS[kind](path, user, float(sys.stdin.readline()))))


class Attack:
    """Attacker processes of unprivileged users (runuser, so they share no descriptor with this
    process), all started at the same moment once each is ready: the flood's waves coincide."""

    def __init__(self, path):
        self.path, self.processes = path, []

    def add(self, kind, user):
        launch = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                  "import test_exhaustion; test_exhaustion.attack_when_told()")
        command = as_user(user, [sys.executable, "-c", launch, kind, self.path, user])
        self.processes.append((kind, subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, text=True)))

    def start(self, seconds):
        for _, process in self.processes:
            assert process.stdout.readline() == "ready\n", process.stderr.read()
        until = time.monotonic() + seconds
        for _, process in self.processes:
            process.stdin.write(f"{until}\n")
            process.stdin.close()
        return until

    def results(self):
        """{kind: [counts of each process]}; fails if an attacker did."""
        results = {}
        for kind, process in self.processes:
            output = process.stdout.read()
            assert process.wait(timeout=60) == 0, f"the {kind} attacker failed:\n{process.stderr.read()}"
            results.setdefault(kind, []).append(json.loads(output))
        return results


def total(results, key):
    return sum(result[key] for result in results)


class DaemonProbe:
    """The daemon's resident memory and open descriptors, read from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def memory_mib(self):
        """(VmRSS, VmHWM)"""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines())
        return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))

    def descriptors(self):
        """(all, sockets)"""
        names = []
        for entry in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                names.append(os.readlink(f"/proc/{self.pid}/fd/{entry}"))
            except FileNotFoundError:
                pass
        return len(names), sum(name.startswith("socket:") for name in names)


class RootLogins:
    """Right codes for many enrolled users, at most one per user per 30-second step, verified
    over root's socket with each latency measured."""

    def __init__(self, path, secrets_by_name):
        self.path, self.secrets = path, secrets_by_name
        self.last_step = dict.fromkeys(secrets_by_name, -1)
        self.latencies, self.failures = [], []

    def verify(self):
        """The answer to one right code, None when every account has used this step."""
        while True:
            step = int(time.time()) // 30
            name = next((name for name, used in self.last_step.items() if used < step), None)
            if name is None:
                return None
            code = totp(self.secrets[name])
            if int(time.time()) // 30 == step:
                break  # else the code may be the next step's: choose again
        self.last_step[name] = step
        started = time.perf_counter()
        try:
            result, _ = wire.exchange(self.path, "VERIFY", user=name, code=code)
        except OSError as error:
            result = repr(error)
        self.latencies.append((time.perf_counter() - started) * 1000)
        if result != "OK":
            self.failures.append(f"{name}: {result}")
        return result


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def test_root_verifies_within_100_ms_while_users_exhaust_the_daemon(workdir, make_user):
    """All attack kinds at once against the default limits: root's right codes answer OK at
    p99 ≤ 100 ms, memory stays bounded, and every connection of the attack is released."""
    keys = {make_user(): secrets.token_bytes(20) for _ in range(ROOT_RATE * min(SECONDS, 30) + 10)}
    imported = import_oath(Daemon(workdir), users_file(workdir, [f"HOTP/T30 {name} - {key.hex()}"
                                                                 for name, key in keys.items()]))
    assert imported.returncode == 0, imported.stderr
    daemon = Daemon(workdir)
    daemon.start()
    try:
        probe = DaemonProbe(daemon.process.pid)
        root = RootLogins(daemon.socket + ".root", {name: base64.b32encode(key).decode() for name, key in keys.items()})
        for _ in range(5):
            root.verify()
        for _ in range(50):
            wire.exchange(daemon.socket, "STATUS", user="nobody-warming-up")
        assert root.failures == [], root.failures
        time.sleep(1)  # the warm-up's last connections closed
        rss_baseline, high_water_baseline = probe.memory_mib()
        fds_baseline, sockets_baseline = probe.descriptors()
        root.latencies.clear()

        attack = Attack(daemon.socket)
        for kind in ["flood", "flood_filled"] * (FLOOD_USERS // 2) + ["slow", "malformed", "half_close", "nonexistent"]:
            attack.add(kind, make_user())
        until = attack.start(SECONDS)
        rss_peak, fds_peak, sockets_peak = rss_baseline, fds_baseline, sockets_baseline
        next_at = time.monotonic()
        while time.monotonic() < until:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= until:
                break
            next_at += 1 / ROOT_RATE
            root.verify()
            rss, _ = probe.memory_mib()
            fds, sockets = probe.descriptors()
            rss_peak, fds_peak, sockets_peak = max(rss_peak, rss), max(fds_peak, fds), max(sockets_peak, sockets)
        results = attack.results()
        _, rss_high_water = probe.memory_mib()

        released = time.monotonic() + REQUEST_TIMEOUT + 5
        while probe.descriptors()[1] > sockets_baseline and time.monotonic() < released:
            time.sleep(0.1)
        fds_after, sockets_after = probe.descriptors()
        latencies, failures = sorted(root.latencies), list(root.failures)
        answer_after = root.verify()
        alive = daemon.process.poll() is None
    finally:
        daemon.stop()

    flood, (slow,), (malformed,) = results["flood"] + results["flood_filled"], results["slow"], results["malformed"]
    (halfway,), (nonexistent,) = results["half_close"], results["nonexistent"]
    held_per_wave = [sum(wave) for wave in zip(*(result["held"] for result in flood))]
    figures = {
        "check": "exhaustion as unprivileged users", "seconds": SECONDS,
        "connections_attempted": total(flood, "attempted"), "connections_held_peak": max(held_per_wave, default=0),
        "daemon_connections_peak": sockets_peak - sockets_baseline, "refused_queue_full": total(flood, "queue_full"),
        "refused_denied": total(flood, "denied"), "cut_off_at_timeout": total(flood, "cut_off"),
        "outlived_timeout": total(flood, "outlived_timeout"),
        "slow_writers": slow["started"], "slow_writers_denied": slow["denied"], "slow_bytes": slow["bytes"],
        "slow_longest_open_s": round(slow["longest_open_s"], 1),
        "oversize_frames": malformed.pop("oversize"), "garbage_frames": malformed.pop("garbage"),
        "malformed_answers": malformed,
        "half_closes": halfway.pop("after_request") + halfway.pop("before_request"), "half_close_answers": halfway,
        "nonexistent_account_requests": nonexistent.pop("requests"), "nonexistent_answers": nonexistent,
        "root_verifications": len(latencies), "root_p50_ms": round(percentile(latencies, 0.5), 1),
        "root_p99_ms": round(percentile(latencies, 0.99), 1), "root_max_ms": round(latencies[-1], 1),
        "failures": len(failures),
        "rss_baseline_mib": round(rss_baseline, 1), "rss_peak_mib": round(rss_peak, 1),
        "rss_high_water_before_mib": round(high_water_baseline, 1),
        "rss_high_water_after_mib": round(rss_high_water, 1),
        "fds_baseline": fds_baseline, "fds_peak": fds_peak, "fds_after": fds_after,
    }
    if os.environ.get("EXHAUSTION_FIGURES"):
        with open(os.environ["EXHAUSTION_FIGURES"], "a") as out:
            out.write(json.dumps(figures) + "\n")
    print(json.dumps(figures))

    assert len(latencies) >= 0.8 * ROOT_RATE * SECONDS, "root's verifications hardly ran: the test would prove nothing"
    assert figures["connections_attempted"] >= FLOOD_USERS * FLOOD_WAVE and figures["connections_held_peak"] >= PER_UID
    assert all(figures[key] for key in ("slow_bytes", "oversize_frames", "garbage_frames", "half_closes",
                                        "nonexistent_account_requests"))
    assert failures == [], failures[:10]
    assert figures["root_p99_ms"] <= P99_LIMIT_MS, figures
    assert max(rss_peak, rss_high_water) <= rss_baseline + MEMORY_GROWTH_LIMIT_MIB, figures
    assert figures["connections_held_peak"] <= CONNECTIONS_MAX, figures
    assert figures["outlived_timeout"] == 0 and slow["longest_open_s"] <= REQUEST_TIMEOUT + 2, figures
    assert "kept_open" not in malformed and "kept_open" not in halfway and "kept_open" not in nonexistent, figures
    assert alive and answer_after == "OK" and sockets_after == sockets_baseline, (answer_after, figures)
