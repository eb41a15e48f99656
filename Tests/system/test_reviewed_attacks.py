"""Attacks an independent review reproduced as a local user (issue 10, section A), against the
real daemon binary, the real CLI and the module through real libpam. Each failed on the build
the review attacked; docs/SECURITY.md, "Reviewed attacks", lists them with their tests."""

import json
import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Daemon, Tools, as_user, in_process_of, totp
from test_pam_login import enroll
from wire import frame


RELAXED = "rate_limit:\n  attempts: 20\n"  # several logins within one 30-second window


@pytest.fixture
def daemon_config():
    return RELAXED


VERIFY, STATUS = 1, 4
USER, CODE, RHOST = 1, 2, 4


def send_as(user, path, request, count):
    """Sends `request` `count` times as `user` (a child process with its uid), one connection each."""
    def send():
        for _ in range(count):
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(path)
                connection.sendall(request)
                connection.recv(4096)
    in_process_of(user, send)


def audit_rows(daemon):
    with sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True) as database:
        return database.execute("SELECT event, result, caller_uid, count, length(user), length(rhost) FROM audit").fetchall()


def test_a_flood_of_refused_requests_writes_a_bounded_audit(tools, make_user):
    """A.3: every refused request used to write a row with 256 bytes of the caller's text."""
    attacker, victim = make_user(), make_user()
    enroll(tools, victim)
    request = frame(VERIFY, [(USER, victim.encode()), (CODE, b"123456"), (RHOST, b"h" * 256)])
    send_as(attacker, tools.daemon.socket, request, 2000)
    uid = int(subprocess.run(["id", "-u", attacker], capture_output=True, text=True, check=True).stdout)
    mine = [row for row in audit_rows(tools.daemon) if row[2] == uid]
    assert 0 < len(mine) <= 30, len(mine)
    assert all(row[1] == "other-user" and row[5] <= 64 for row in mine)
    # The journal got a few of those lines, not 2000.
    refused_lines = [line for line in tools.daemon.logged().splitlines()
                     if "request refused" in line and f"caller_uid={uid}" in line]
    assert 0 < len(refused_lines) <= 20, len(refused_lines)


@pytest.fixture
def small_disk(workdir):
    mount = workdir / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory):
    filler = directory / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    return filler


def test_root_logins_go_on_when_the_disk_is_full(workdir, small_disk, pam_service, make_user):
    """A.3: on a full disk root's VERIFY failed and every login was refused."""
    daemon = Daemon(workdir, RELAXED)
    daemon.state = str(small_disk / "state")
    daemon.start()
    try:
        tools = Tools(workdir, daemon)
        user, attacker = make_user(), make_user()
        secret = enroll(tools, user)
        service = pam_service(f"socket={daemon.socket}")
        assert (small_disk / "state" / "space-reserve").stat().st_size == 8 << 20
        filler = fill(small_disk)
        assert os.statvfs(small_disk).f_bavail == 0
        # Root (the login stack) still logs the user in, and the step is stored: no replay.
        code = totp(secret, 1)
        assert tools.pamtester(service, user, code).returncode == 0, daemon.logged()
        assert "disk full: released the space reserve" in daemon.logged()
        assert tools.pamtester(service, user, code).returncode != 0
        # What an unprivileged user asks for then is not written: the reserve is for logins.
        free = os.statvfs(small_disk).f_bavail
        send_as(attacker, daemon.socket, frame(STATUS, [(USER, user.encode())]), 300)
        assert os.statvfs(small_disk).f_bavail >= free - 1
        assert tools.pamtester(service, user, totp(secret, 2)).returncode == 0, daemon.logged()
        filler.unlink()
    finally:
        daemon.stop()


def test_hostile_remote_host_names_cannot_forge_log_fields(tools, pam_service, make_user):
    """A.8: a remote host name with a backslash and a quote forged `key=value` pairs."""
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket}")
    hostile = 'evil\\" user=root result=ok x=\\'
    assert tools.pamtester(service, user, totp(secret, 1)).returncode == 0
    result = subprocess.run(["pamtester", f"-I", f"rhost={hostile}", service, user, "authenticate"],
                            input=totp(secret, 2) + "\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = [line for line in tools.daemon.logged().splitlines() if "rhost=" in line and "evil" in line]
    assert lines
    for line in lines:
        pairs = re.findall(r' ([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)', line)
        keys = [key for key, _ in pairs]
        assert keys.count("user") == 1 and keys.count("result") == 1, line
        rhost = dict(pairs)["rhost"]
        assert rhost.startswith('"') and re.sub(r"\\(.)", r"\1", rhost[1:-1]) == hostile, line


def test_totpctl_refuses_a_socket_that_is_not_the_daemons(tools, workdir, make_user):
    """A.10: totpctl sent the codes typed to it to whatever TOTPD_SOCKET named."""
    user = make_user()
    fake = workdir / f"{user}.sock"
    received = []
    uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(fake))
    os.chown(fake, uid, -1)  # the user's own socket, as if the user had made it
    listener.listen(4)
    listener.settimeout(10)

    def serve():
        try:
            connection, _ = listener.accept()
            received.append(connection.recv(4096))
            connection.close()
        except OSError:
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    environment = dict(os.environ, TOTPD_SOCKET=str(fake))
    for arguments in (["resync"], ["recovery-codes", "--regenerate"], ["enroll", "--replace"]):
        result = subprocess.run(as_user(user, [str(workdir / "totpctl")] + arguments), env=environment,
                                input="123456\n654321\n", capture_output=True, text=True, timeout=20)
        assert result.returncode != 0 and "not a socket owned by uid 0" in result.stderr, result.stderr
    listener.close()
    thread.join()
    assert received == [] or all(b"123456" not in chunk for chunk in received)


def test_a_connection_flood_does_not_keep_root_out(tools, pam_service, make_user):
    """Found by the review of the fixes: one user filling the shared socket's accept queue with
    connections it never uses made root's logins fail ("unavailable") after the timeout. Root's
    logins now come through root's own socket, whose queue no one else can reach."""
    attacker, user = make_user(), make_user()
    uid = int(subprocess.run(["id", "-u", attacker], capture_output=True, text=True, check=True).stdout)
    service = pam_service(f"socket={tools.daemon.socket} timeout=3")
    stop = time.monotonic() + 12
    flooders = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                held = []
                while time.monotonic() < stop:
                    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                    try:
                        connection.connect(tools.daemon.socket)
                    except OSError:
                        pass
                    held.append(connection)
                    if len(held) >= 900:
                        for old in held[:450]:
                            old.close()
                        del held[:450]
            finally:
                os._exit(0)
        flooders.append(pid)
    try:
        time.sleep(2)  # the queue is full by now
        answers = []
        while time.monotonic() < stop - 1:
            answers.append(tools.pamtester(service, user, "123456"))
    finally:
        for pid in flooders:
            os.waitpid(pid, 0)
    assert len(answers) >= 3
    # Each an answer (not enrolled: refused), never "unavailable", and not held up: behind the
    # shared queue they took 1 to 2 s here, and failed after the 3 s timeout on a busier machine.
    for answer in answers:
        assert "Authentication failure" in answer.stderr, answer.stderr
    elapsed = sorted(answer.elapsed for answer in answers)
    assert elapsed[len(elapsed) // 2] < 0.5, elapsed


@pytest.mark.parametrize("mode, owned_by_user", [(0o777, False), (0o755, True)])
def test_the_daemon_refuses_a_socket_directory_others_can_change(workdir, make_user, mode, owned_by_user):
    """Found by the second review: with the socket in a directory a user could write, the user
    renamed root's socket away and every root login failed closed."""
    user = make_user()
    directory = workdir / "sockets"
    directory.mkdir()
    directory.chmod(mode)
    if owned_by_user:
        uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
        os.chown(directory, uid, -1)
    daemon = Daemon(workdir)
    command = daemon.command()
    command[command.index("--socket") + 1] = str(directory / "socket")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"socket directory {directory}" in result.stderr, result.stderr
    assert not (directory / "socket").exists() and not (directory / "socket.root").exists()
