"""Guessing through the real daemon: an unprivileged user guessing its own codes over the public
socket, and root guessing a victim's over root's socket as a login stack would, both run into the
lockout, after which not even the right code is checked; each lockout is audited."""

import sqlite3

import pytest

from conftest import in_process_of, totp, wrong_code
from test_pam_login import enroll
import wire

# A rate limit out of the way, so the lockout (5 consecutive failures) comes within seconds.
RELAXED = "rate_limit:\n  attempts: 20\n"


@pytest.fixture
def daemon_config():
    return RELAXED


def guess_until_locked(path, user, secret, guesser=None):
    """Wrong codes until the answer is LOCKED, then a right one; in the process of `guesser`
    when given. Returns the answers in order."""
    wrong, right = wrong_code(secret), totp(secret, 1)  # right: a step not used yet

    def guess():
        answers = []
        while len(answers) < 50 and (not answers or answers[-1] != "LOCKED"):
            answers.append(wire.exchange(path, "VERIFY", user=user, code=wrong)[0])
        answers.append(wire.exchange(path, "VERIFY", user=user, code=right)[0])
        return answers

    return in_process_of(guesser, guess) if guesser else guess()


def lockouts(daemon, user):
    with sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True) as database:
        return database.execute("SELECT count(*) FROM audit WHERE event = 'lockout' AND user = ?", (user,)).fetchone()[0]


def test_a_user_guessing_its_own_codes_is_locked_out(daemon, tools, make_user):
    user = make_user()
    secret = enroll(tools, user)
    answers = guess_until_locked(daemon.socket, user, secret, guesser=user)
    # Five wrong codes checked, then locked: the right code is not even looked at.
    assert answers == ["REJECTED"] * 5 + ["LOCKED", "LOCKED"]
    assert lockouts(daemon, user) == 1


def test_root_guessing_a_victims_codes_is_locked_out(daemon, tools, make_user):
    victim = make_user()
    secret = enroll(tools, victim)
    answers = guess_until_locked(daemon.socket + ".root", victim, secret)
    assert answers == ["REJECTED"] * 5 + ["LOCKED", "LOCKED"]
    assert lockouts(daemon, victim) == 1
