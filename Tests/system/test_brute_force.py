"""Guessing through the real daemon: an unprivileged user guessing its own codes over the public
socket, and root guessing a victim's over root's socket as a login stack would, both run into the
lockout, after which not even the right code is checked; each lockout is audited."""

import os
import sqlite3
import subprocess

import pytest

from conftest import totp, wrong_code
from test_pam_login import enroll
import wire

# A rate limit out of the way, so the lockout (5 consecutive failures) comes within seconds.
RELAXED = "rate_limit:\n  attempts: 20\n"


@pytest.fixture
def daemon_config():
    return RELAXED


def guess_until_locked(path, user, secret, as_uid=None):
    """Wrong codes until the answer is LOCKED, then the right code; as `as_uid` (a child process
    with that uid) when given. Returns the answers in order."""
    wrong, right = wrong_code(secret), totp(secret, 1)  # right: a step not used yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            if as_uid is not None:
                os.setgid(as_uid)
                os.setuid(as_uid)
            answers = []
            while len(answers) < 50 and (not answers or answers[-1] != "LOCKED"):
                answers.append(wire.exchange(path, "VERIFY", user=user, code=wrong)[0])
            answers.append(wire.exchange(path, "VERIFY", user=user, code=right)[0])
            os.write(write, " ".join(answers).encode())
        finally:
            os._exit(0)
    os.close(write)
    output = b""
    while chunk := os.read(read, 4096):
        output += chunk
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0
    return output.decode().split()


def lockouts(daemon, user):
    with sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True) as database:
        return database.execute("SELECT count(*) FROM audit WHERE event = 'lockout' AND user = ?", (user,)).fetchone()[0]


def test_a_user_guessing_its_own_codes_is_locked_out(daemon, tools, make_user):
    user = make_user()
    secret = enroll(tools, user)
    uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    answers = guess_until_locked(daemon.socket, user, secret, as_uid=uid)
    # Five wrong codes checked, then locked: the right code is not even looked at.
    assert answers == ["REJECTED"] * 5 + ["LOCKED", "LOCKED"]
    assert lockouts(daemon, user) == 1


def test_root_guessing_a_victims_codes_is_locked_out(daemon, tools, make_user):
    victim = make_user()
    secret = enroll(tools, victim)
    answers = guess_until_locked(daemon.socket + ".root", victim, secret)
    assert answers == ["REJECTED"] * 5 + ["LOCKED", "LOCKED"]
    assert lockouts(daemon, victim) == 1
