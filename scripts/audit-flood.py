#!/usr/bin/env python3
"""Measures what one unprivileged user can make totpd write (issue 10, A.3): a throwaway daemon,
an enrolled victim, and a local user flooding it with refused requests (VERIFY of the victim,
each with 256 bytes of caller-chosen remote host) from 16 connections for DURATION seconds,
while root logs the victim in through real PAM every 10 s. Prints the store's growth, the
requests sent, and root's verifications during and after the flood.

    scripts/audit-flood.py TOTPD TOTPCTL PAM_MODULE [DURATION]     (as root)
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

totpd, totpctl, module = sys.argv[1:4]
duration = int(sys.argv[4]) if len(sys.argv) > 4 else 600
work = Path(tempfile.mkdtemp(prefix="totpd-flood-"))
work.chmod(0o755)
state, sock = work / "state", str(work / "socket")
service = f"totpd-flood-{os.getpid()}"
victim, attacker = f"flv{os.getpid()}", f"fla{os.getpid()}"


def frame(operation, fields):
    body = bytes([1, operation]) + b"".join(bytes([tag]) + struct.pack(">H", len(v)) + v for tag, v in fields)
    return struct.pack(">I", len(body)) + body


def code(secret, offset=0):
    moment = int(time.time()) + 30 * offset
    return subprocess.run(["oathtool", "--totp", "--base32", f"--now=@{moment}", secret],
                          capture_output=True, text=True, check=True).stdout.strip()


def sizes():
    return {f.name: f.stat().st_size for f in state.iterdir()}


def flood(stop, counter):
    # Run as the attacker: fork, drop privileges, send refused requests as fast as the daemon takes them.
    request = frame(1, [(1, victim.encode()), (2, b"123456"), (4, b"h" * 256)])
    uid = int(subprocess.run(["id", "-u", attacker], capture_output=True, text=True).stdout)
    pids = []
    for _ in range(16):
        pid = os.fork()
        if pid == 0:
            os.setgid(uid), os.setuid(uid)
            sent = 0
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(sock)
                        s.sendall(request)
                        s.recv(4096)
                        sent += 1
                except OSError:
                    pass
            os.write(counter, struct.pack(">Q", sent))
            os._exit(0)
        pids.append(pid)
    return pids


subprocess.run(["useradd", "--no-create-home", victim], check=True)
subprocess.run(["useradd", "--no-create-home", attacker], check=True)
daemon = subprocess.Popen([totpd, "--config", "/dev/null", "--socket", sock, "--state-dir", str(state), "--issuer", "flood"],
                          stdout=subprocess.DEVNULL, stderr=open(work / "totpd.log", "w"))
try:
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    env = dict(os.environ, TOTPD_SOCKET=sock)
    import json
    secret = json.loads(subprocess.run([totpctl, "enroll", "--user", victim, "--json"], env=env, capture_output=True,
                                       text=True, check=True).stdout)["secret"]
    subprocess.run([totpctl, "confirm", "--user", victim], input=code(secret) + "\n", env=env, check=True,
                   capture_output=True, text=True)
    Path("/etc/pam.d", service).write_text(f"auth required {module} socket={sock}\n")
    time.sleep(30)  # the confirming step is used; the next login needs the next one

    def login(offset=0):
        started = time.monotonic()
        ok = subprocess.run(["pamtester", service, victim, "authenticate"], input=code(secret, offset) + "\n",
                            capture_output=True, text=True).returncode == 0
        return ok, time.monotonic() - started

    before = sizes()
    read, write = os.pipe()
    pids = flood(None, write)
    results, last_step = [], int(time.time()) // 30
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(10)
        step = int(time.time()) // 30
        if step != last_step:  # one login per 30-second step: a code is good once
            results.append(login())
            last_step = step
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(write)
    data = os.read(read, 8 * 16)
    sent = sum(struct.unpack(">Q", data[i:i + 8])[0] for i in range(0, len(data), 8))
    time.sleep(31)
    after_ok, after_time = login()
    after = sizes()
    rows = subprocess.run(["sqlite3", str(state / "totpd.sqlite"), "SELECT count(*), sum(count) FROM audit"],
                          capture_output=True, text=True).stdout.strip()
    ok = sum(1 for good, _ in results if good)
    worst = max((t for _, t in results), default=0)
    print(f"flood: {duration} s, 16 connections from uid {attacker}, {sent} refused requests ({sent / duration:.0f}/s)")
    grown = sum(after.values()) - sum(before.values())
    print(f"state directory: {sum(before.values())} bytes before, {sum(after.values())} after: grew {grown} bytes")
    for name in sorted(set(before) | set(after)):
        print(f"  {name}: {before.get(name, 0)} -> {after.get(name, 0)} bytes")
    print(f"audit rows (rows, events they stand for): {rows}")
    print(f"root during the flood: {ok}/{len(results)} logins accepted, slowest {worst * 1000:.0f} ms")
    print(f"root after the flood: {'accepted' if after_ok else 'REFUSED'} in {after_time * 1000:.0f} ms")
    sys.exit(0 if ok == len(results) and after_ok else 1)
finally:
    daemon.terminate()
    daemon.wait()
    Path("/etc/pam.d", service).unlink(missing_ok=True)
    for name in (victim, attacker):
        subprocess.run(["userdel", name], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
