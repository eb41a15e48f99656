#!/usr/bin/python3
"""make bench: totpd against pam_google_authenticator and pam_oath through real libpam, the
daemon at its socket, and its cost with 10k, 100k and 1M users, in one run.

Everything happens in a private mount namespace: the bench users exist only there (10k in a
bind-mounted /etc/passwd, as on most hosts; 100k and 1M in an indexed libnss-db passwd, as a
large site would keep them), and the host's files are never touched. Each point prints a table
row and one JSON line; results.jsonl and chart.svg go to the output directory.

Environment: BENCH_USERS (default "10000 100000 1000000"), BENCH_SECONDS (per point, default 3),
BENCH_OUT (default build/bench), TOTPD_BIN, TOTPCTL_BIN, PAM_MODULE, BENCH_BIN (the C drivers),
BENCH_DAEMON_BIN (another totpd build to measure on the same store), BENCH_WORK.
"""

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from base64 import b32encode
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "build/bench"))
BIN = Path(os.environ.get("BENCH_BIN", ROOT / "build/bench"))
TOTPD = os.environ.get("TOTPD_BIN", str(ROOT / ".build/release/totpd"))
# Another build to serve the same store (the import needs TOTPD's --import-oath): for before and
# after figures of a change.
SERVING = os.environ.get("BENCH_DAEMON_BIN", TOTPD)
# The least a SwiftNIO server does per connection (bench/nio-floor), beside the C one.
NIO_FLOOR = os.environ.get("BENCH_NIO_FLOOR_BIN", str(ROOT / ".build/release/bench-nio-floor"))
TOTPCTL = os.environ.get("TOTPCTL_BIN", str(ROOT / ".build/release/totpctl"))
MODULE = os.environ.get("PAM_MODULE", str(ROOT / "build/pam_totpd.so"))
USER_COUNTS = [int(n) for n in os.environ.get("BENCH_USERS", "10000 100000 1000000").split()]
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
WORK = Path(os.environ.get("BENCH_WORK", "/var/tmp/totpd-bench"))
PREFIX = "bu"
FIRST_UID = 3000000
MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() or "x86_64-linux-gnu"
SECURITY = Path(f"/lib/{MULTIARCH}/security")
MODULES = {
    "totpd": lambda: f"auth required {MODULE} socket={WORK}/run/socket",
    # As the Debian package documents it: one secret file per user, here root-owned files under
    # one directory (user=root), with the rate limit and replay protection on in each file.
    "google-authenticator": lambda: f"auth required {SECURITY}/pam_google_authenticator.so secret={WORK}/ga/${{USER}} user=root",
    "oath": lambda: f"auth required {SECURITY}/pam_oath.so usersfile={WORK}/users.oath window=1",
    # The floor: libpam, the driver and a new process, with a module that does nothing.
    "permit": lambda: f"auth required {SECURITY}/pam_permit.so",
}
results = []


def secret(name):
    return hmac.new(b"totpd-bench", name.encode(), hashlib.sha1).digest()


def emit(record):
    results.append(record)
    print(json.dumps(record), flush=True)


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def output(*args):
    return run(*args, capture_output=True, text=True).stdout


def enter_namespace():
    """Re-runs this script in a private mount namespace, where the bind mounts stay."""
    if os.environ.get("TOTPD_BENCH_NAMESPACE") != "1":
        os.environ["TOTPD_BENCH_NAMESPACE"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable, *sys.argv])


def bind(source, target):
    run("mount", "--bind", source, target)


def provision_accounts(count):
    """The bench users, in the NSS source a host of that size would use."""
    names = [f"{PREFIX}{i}" for i in range(count)]
    entries = [f"{name}:x:{FIRST_UID + i}:{FIRST_UID + i}::/nonexistent:/usr/sbin/nologin\n" for i, name in enumerate(names)]
    accounts = WORK / "accounts"
    accounts.mkdir()
    base = Path("/etc/passwd").read_text()
    if count <= 10000:
        (accounts / "passwd").write_text(base + "".join(entries))
        bind(accounts / "passwd", "/etc/passwd")
        source = "files (/etc/passwd)"
    else:
        # libnss-db keys: ".name" and "=uid" for lookups, "0N" for enumeration.
        with open(accounts / "passwd.in", "w") as db_input:
            for i, entry in enumerate(entries):
                line = entry.rstrip("\n")
                db_input.write(f".{names[i]} {line}\n={FIRST_UID + i} {line}\n0{i} {line}\n")
        misc = accounts / "misc"
        misc.mkdir()
        run("makedb", "--quiet", "-o", misc / "passwd.db", accounts / "passwd.in")
        (accounts / "passwd.in").unlink()
        bind(misc, "/var/lib/misc")
        conf = Path("/etc/nsswitch.conf").read_text().splitlines()
        conf = [("passwd:         files db" if line.startswith("passwd:") else line) for line in conf]
        (accounts / "nsswitch.conf").write_text("\n".join(conf) + "\n")
        bind(accounts / "nsswitch.conf", "/etc/nsswitch.conf")
        source = "libnss-db (files db)"
    return names, source


def provision_modules(names, peers=True):
    started = time.monotonic()
    with open(WORK / "users.oath", "w") as users:
        for name in names:
            users.write(f"HOTP/T30 {name} - {secret(name).hex()}\n")
    os.chmod(WORK / "users.oath", 0o600)
    ga = WORK / "ga"
    ga.mkdir()
    for name in names if peers else ():
        path = ga / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        os.write(fd, (b32encode(secret(name)).decode() + '\n" RATE_LIMIT 3 30\n" DISALLOW_REUSE\n" TOTP_AUTH\n').encode())
        os.close(fd)
    files = time.monotonic() - started
    state = WORK / "state"
    config = WORK / "totpd.conf"
    config.write_text(f"socket: {WORK}/run/socket\nstate_directory: {state}\nkey_file: {state}/secret.key\n")
    started = time.monotonic()
    run(TOTPD, "--config", config, "--import-oath", WORK / "users.oath", stdout=subprocess.DEVNULL)
    imported = time.monotonic() - started
    pam = WORK / "pam.d"
    pam.mkdir()
    for label, line in MODULES.items():
        (pam / f"bench-{label}").write_text(line() + "\n")
    return {"files_s": round(files, 1), "totpd_import_s": round(imported, 1)}


class SyslogSink:
    """Stands in for journald or rsyslog at /dev/log when the machine has neither: without a
    listener, syslog(3) writes every line of every module to the console, which costs a
    millisecond a line on a serial console and would measure the console, not the modules."""

    def __init__(self):
        self.path = Path("/dev/log")
        self.sock = None
        if self.path.exists():
            return
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages = 0
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self):
        while True:
            self.sock.recv(65536)
            self.messages += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.path.unlink()


class Daemon:
    """totpd under systemd-socket-activate, as systemd starts it: the first connection starts it."""

    def __init__(self):
        run_dir = WORK / "run"
        run_dir.mkdir(exist_ok=True, mode=0o755)
        self.socket = run_dir / "socket"
        self.process = subprocess.Popen(
            ["systemd-socket-activate", "-l", str(self.socket), "-l", f"{self.socket}.root", "--fdname=public:root",
             SERVING, "--config", str(WORK / "totpd.conf")],
            stderr=open(WORK / "totpd.log", "a"))
        for _ in range(500):
            if self.socket.exists() and Path(f"{self.socket}.root").exists():
                break
            time.sleep(0.01)
        os.chmod(self.socket, 0o666)

    def first_answer_ms(self):
        started = time.monotonic()
        status = precheck(f"{self.socket}.root", f"{PREFIX}0")
        assert status is not None, "the daemon did not answer"
        return (time.monotonic() - started) * 1000

    @property
    def pid(self):
        # systemd-socket-activate execs the daemon in place, so its pid is the daemon's.
        return self.process.pid

    def rss_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def precheck(path, user):
    """One PRECHECK over the socket: the answer's result byte."""
    body = bytes([1, 11]) + bytes([1]) + len(user).to_bytes(2, "big") + user.encode()
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(str(path))
        connection.sendall(len(body).to_bytes(4, "big") + body)
        answer = b""
        while len(answer) < 6:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer[5] if len(answer) >= 6 else None


class Users:
    """Hands out disjoint ranges, so no user is asked for the same step twice, nor collects
    failures from an earlier point."""

    def __init__(self, count):
        self.count = count
        self.next = {}

    def take(self, owner, size):
        first = self.next.get(owner, 0)
        size = min(size, self.count - first)
        assert size > 0, f"users for {owner} ran out"
        self.next[owner] = first + size
        return first, size


def pam_points(count, users, daemon):
    slice_size = max(count // 16, 2)
    for label in MODULES:
        for mode, processes in (("fork", 1), ("fork", 2), ("warm", 1)):
            for code in ("right", "wrong") if label != "permit" else ("right",):
                first, size = users.take(label, slice_size)
                line = output(
                    BIN / "pam_driver", label, f"bench-{label}", WORK / "pam.d", PREFIX, first, size, mode, code,
                    processes, SECONDS, daemon.pid if label == "totpd" else 0)
                record = json.loads(line)
                record["users"] = count
                emit(record)


def socket_points(count, users, daemon):
    slice_size = max(count // 16, 512)
    # "null": a connection and a frame the daemon refuses unread, the floor of any request.
    for op in ("verify-right", "verify-wrong", "precheck", "null"):
        for clients in (1, 8, 64, 512) if op != "null" else (8, 64):
            # PRECHECK changes nothing, so its points may share users.
            first, size = users.take("totpd" if op.startswith("verify") else op, slice_size)
            record = json.loads(output(BIN / "socket_load", daemon.socket, PREFIX, first, size, clients, op, SECONDS, daemon.pid))
            record["users"] = count
            emit(record)


def scale_point(count, daemon, source, provisioning):
    store = WORK / "state" / "totpd.sqlite"
    size = sum(p.stat().st_size for p in (WORK / "state").glob("totpd.sqlite*"))
    timings = {}
    for command in (["list"], ["status", f"{PREFIX}{count // 2}"]):
        started = time.monotonic()
        done = subprocess.run([TOTPCTL, *command, "--socket", str(daemon.socket)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        # A failure is a result too: recorded with its message, never as a time.
        timings[command[0]] = round((time.monotonic() - started) * 1000, 1) if done.returncode == 0 else None
        if done.returncode != 0:
            timings[command[0] + "_error"] = done.stderr.strip()[:200]
    emit({"point": "scale", "users": count, "nss": source, "store_mib": round(size / 2**20, 1),
          "rss_mib": round(daemon.rss_kib() / 1024, 1), "list_ms": timings["list"], "status_ms": timings["status"],
          **{k: v for k, v in timings.items() if k.endswith("_error")},
          **provisioning, "store": str(store)})


def floors(count):
    record = json.loads(output(BIN / "floors", WORK / "state", f"{PREFIX}{count - 1}"))
    record["users"] = count
    emit(record)
    return record


def connection_floors():
    """The null request against two servers that do nothing else: floor_server (C, epoll) shows
    what a connection costs the kernel here, bench-nio-floor what it costs with SwiftNIO."""
    for server, binary in (("c", BIN / "floor_server"), ("swiftnio", NIO_FLOOR)):
        path = WORK / f"floor-{server}.sock"
        process = subprocess.Popen([str(binary), str(path)])
        try:
            for _ in range(500):
                if path.exists():
                    break
                time.sleep(0.01)
            for clients in (1, 8, 64):
                record = json.loads(output(BIN / "socket_load", path, PREFIX, 0, 6400, clients, "null", SECONDS, process.pid))
                emit({**record, "point": "connection-floor", "server": server})
        finally:
            process.terminate()
            process.wait(timeout=30)


def guard():
    """make test's regression guard: a VERIFY round trip, one client at a time, may cost at most
    ten times the floor of the same run (one fdatasync on the store's filesystem plus one HMAC),
    and every right code must be accepted. A ratio, so a slow machine does not fail it."""
    count = 2000
    fresh_work_directory()
    names, _ = provision_accounts(count)
    provision_modules(names, peers=False)
    floor = floors(count)
    daemon = Daemon()
    try:
        record = json.loads(output(BIN / "socket_load", daemon.socket, PREFIX, 0, count, 1, "verify-right", SECONDS, daemon.pid))
        emit(record)
    finally:
        daemon.stop()
        subprocess.run(["umount", "/etc/passwd"], stderr=subprocess.DEVNULL)
    budget = 10 * (floor["fdatasync_p50_us"] + floor["hmac_us"])
    ratio = record["p50_us"] / (budget / 10)
    print(f"VERIFY round trip p50 {record['p50_us']:.0f} µs = {ratio:.1f}x the floor "
          f"(fdatasync {floor['fdatasync_p50_us']:.0f} µs + HMAC {floor['hmac_us']:.1f} µs); limit 10x. "
          f"Accepted {record['ok']} of {record['requests']} right codes.")
    if record["requests"] == 0 or record["ok"] != record["requests"]:
        sys.exit("regression guard: not every right code was accepted")
    if record["p50_us"] > budget:
        sys.exit("regression guard: a VERIFY round trip costs more than 10x the fdatasync-plus-HMAC floor")


def settle():
    """Writes back what provisioning left dirty, so its writeback does not land in the first
    points' fdatasyncs."""
    os.sync()
    time.sleep(2)


def fresh_work_directory():
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(mode=0o700)


def one_size(count):
    fresh_work_directory()
    names, source = provision_accounts(count)
    provisioning = provision_modules(names)
    settle()
    floors(count)
    users = Users(count)
    daemon = Daemon()
    try:
        emit({"point": "start", "users": count, "first_answer_ms": round(daemon.first_answer_ms(), 1),
              "rss_mib": round(daemon.rss_kib() / 1024, 1)})
        pam_points(count, users, daemon)
        socket_points(count, users, daemon)
        scale_point(count, daemon, source, provisioning)
    finally:
        daemon.stop()
        for target in ("/etc/nsswitch.conf", "/var/lib/misc", "/etc/passwd"):
            subprocess.run(["umount", target], stderr=subprocess.DEVNULL)


def main():
    if os.geteuid() != 0:
        sys.exit("make bench needs root: it creates users and a root-owned store in a private namespace")
    enter_namespace()
    if sys.argv[1:] == ["--guard"]:
        guard()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    sink = SyslogSink()
    try:
        fresh_work_directory()
        connection_floors()
        for count in USER_COUNTS:
            one_size(count)
    finally:
        sink.close()
    with open(OUT / "results.jsonl", "w") as saved:
        for record in results:
            saved.write(json.dumps(record) + "\n")
    import report
    report.write(results, OUT)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
