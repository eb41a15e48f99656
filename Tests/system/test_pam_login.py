"""The core path end to end: real daemon, real CLI, oathtool codes, real libpam via pamtester."""

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Tools, let_ignore_pass, totp, wrong_code

@pytest.fixture
def daemon_config():
    # These tests make several attempts in a row to check code semantics; the default rate limit
    # (3 per 30 s) is exercised in test_daemon_operations.py.
    return "rate_limit:\n  attempts: 20\n"


AUTH_OK = "successfully authenticated"
AUTH_FAILED = "Authentication failure"
UNAVAILABLE = "Authentication service cannot retrieve authentication info"


def enroll(tools, user):
    begun = tools.totpctl("enroll", "--user", user, "--json")
    assert begun.returncode == 0, begun.stderr
    enrollment = json.loads(begun.stdout)
    assert enrollment["user"] == user
    assert enrollment["uri"].startswith(f"otpauth://totp/system-test:{user}?secret={enrollment['secret']}")
    assert enrollment["expires"]
    confirmed = tools.totpctl("confirm", "--user", user, codes=[totp(enrollment["secret"])])
    assert confirmed.returncode == 0, confirmed.stderr
    return enrollment["secret"]


def test_right_wrong_replayed_and_foreign_codes(tools, pam_service, make_user):
    alice, bob = make_user(), make_user()
    alice_secret, bob_secret = enroll(tools, alice), enroll(tools, bob)
    service = pam_service(f"socket={tools.daemon.socket} timeout=3")

    # The confirming code used the current step, so log in with the next one (inside the window).
    code = totp(alice_secret, 1)
    first = tools.pamtester(service, alice, code)
    assert first.returncode == 0 and AUTH_OK in first.stdout, first.stdout + first.stderr

    replay = tools.pamtester(service, alice, code)
    assert replay.returncode != 0 and AUTH_FAILED in replay.stderr, replay.stdout + replay.stderr

    wrong = tools.pamtester(service, alice, wrong_code(alice_secret))
    assert wrong.returncode != 0 and AUTH_FAILED in wrong.stderr

    foreign = tools.pamtester(service, alice, totp(bob_secret, 1))
    assert foreign.returncode != 0 and AUTH_FAILED in foreign.stderr

    status = json.loads(tools.totpctl("status", "--user", alice, "--json").stdout)
    assert status["state"] == "active" and status["failures"] == 3


def test_not_enrolled_and_revoked_users_are_refused(tools, pam_service, make_user):
    carol = make_user()
    service = pam_service(f"socket={tools.daemon.socket}")
    unenrolled = tools.pamtester(service, carol, "123456")
    assert unenrolled.returncode != 0 and AUTH_FAILED in unenrolled.stderr

    secret = enroll(tools, carol)
    revoked = tools.totpctl("revoke", carol)
    assert revoked.returncode == 0, revoked.stderr
    after = tools.pamtester(service, carol, totp(secret, 1))
    assert after.returncode != 0 and AUTH_FAILED in after.stderr
    assert json.loads(tools.totpctl("status", "--user", carol, "--json").stdout)["state"] == "revoked"


def test_stopped_daemon_fails_closed_within_the_timeout(tools, pam_service, make_user):
    dave = make_user()
    secret = enroll(tools, dave)
    service = pam_service(f"socket={tools.daemon.socket} timeout=2")
    tools.daemon.stop()
    result = tools.pamtester(service, dave, totp(secret, 1))
    assert result.returncode != 0 and UNAVAILABLE in result.stderr, result.stdout + result.stderr
    assert result.elapsed < 2.5


def test_silent_daemon_fails_closed_at_the_timeout(workdir, pam_service, make_user):
    # A root-owned listener that accepts and never answers: only the module's deadline ends the wait.
    path = str(workdir / "silent.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    service = pam_service(f"socket={path} timeout=1")
    started = time.monotonic()
    result = Tools(workdir, None).pamtester(service, make_user(), "123456")
    elapsed = time.monotonic() - started
    listener.close()
    assert result.returncode != 0 and UNAVAILABLE in result.stderr, result.stdout + result.stderr
    assert 0.9 < elapsed < 2.5, elapsed


def test_unknown_module_argument_fails_closed(tools, pam_service, make_user):
    erin = make_user()
    secret = enroll(tools, erin)
    for arguments in ["bogus=1", "timeout=abc", "timeout=0", "socket=relative/path"]:
        service = pam_service(f"socket={tools.daemon.socket} {arguments}")
        result = tools.pamtester(service, erin, totp(secret, 1))
        assert result.returncode != 0 and "Error in service module" in result.stderr, (arguments, result.stderr)


def test_daemon_log_never_holds_codes_or_secrets(tools, pam_service, make_user):
    frank = make_user()
    secret = enroll(tools, frank)
    code = totp(secret, 1)
    service = pam_service(f"socket={tools.daemon.socket}")
    assert tools.pamtester(service, frank, code).returncode == 0
    log = tools.daemon.logged()
    assert "request handled" in log
    assert code not in log and secret not in log


def test_consecutive_failures_lock_the_user_out(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket}")
    for _ in range(5):
        assert tools.pamtester(service, user, wrong_code(secret)).returncode != 0
    # The fifth failure locked the account for 30 s: even the right code is refused, unchecked.
    locked = tools.pamtester(service, user, totp(secret, 1))
    assert locked.returncode != 0
    assert "Too many attempts. Try again in 30 seconds." in locked.stdout + locked.stderr
    status = json.loads(tools.totpctl("status", "--user", user, "--json").stdout)
    assert status["failures"] == 5 and status["locked_until"]
    log = tools.daemon.logged()
    assert "user locked out" in log and "locked_for=30s" in log
    events = json.loads(tools.totpctl("log", "--user", user, "--json").stdout)
    assert [e["result"] for e in events if e["event"] == "lockout"] == ["for-30s"]
    assert json.loads(tools.totpctl("log", "--user", user, "--since", "2100-01-01T00:00:00Z", "--json").stdout) == []
    assert tools.totpctl("log", "--since", "yesterday").returncode != 0


def test_prompt_argument_sets_the_prompt_text(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    # Linux-PAM's bracket form passes a value with spaces as one argument.
    service = pam_service(f"socket={tools.daemon.socket} [prompt=Your TOTP code: ]")
    result = tools.pamtester(service, user, totp(secret, 1))
    assert result.returncode == 0, result.stderr
    assert "Your TOTP code: " in result.stdout + result.stderr
    assert "Verification code" not in result.stdout + result.stderr


def test_unenrolled_allow_ignores_only_users_without_an_enrollment(tools, pam_service, make_user):
    enrolled, newcomer = make_user(), make_user()
    secret = enroll(tools, enrolled)
    service = pam_service(f"socket={tools.daemon.socket} unenrolled=allow")
    let_ignore_pass(service)
    skipped = subprocess.run(["pamtester", service, newcomer, "authenticate"], input="", capture_output=True,
                             text=True, timeout=30)
    assert skipped.returncode == 0, skipped.stderr  # no prompt: no input was needed
    asked = tools.pamtester(service, enrolled, wrong_code(secret))
    assert asked.returncode != 0 and "Verification code" in asked.stdout + asked.stderr
    # The default (deny) prompts the newcomer too, and refuses.
    default = pam_service(f"socket={tools.daemon.socket}")
    denied = tools.pamtester(default, newcomer, "123456")
    assert denied.returncode != 0 and "Verification code" in denied.stdout + denied.stderr


def test_use_first_pass_takes_the_code_an_earlier_module_collected(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket} use_first_pass")
    path = Path("/etc/pam.d", service)
    # pam_unix asks "Password:" and keeps what was typed as PAM_AUTHTOK; it fails (optional).
    path.write_text("auth optional pam_unix.so\n" + path.read_text())
    result = tools.pamtester(service, user, totp(secret, 1))
    assert result.returncode == 0 and AUTH_OK in result.stdout, result.stdout + result.stderr
    assert "Verification code" not in result.stdout + result.stderr
    # Without an earlier module, use_first_pass has nothing to use and refuses without prompting.
    alone = pam_service(f"socket={tools.daemon.socket} use_first_pass")
    refused = tools.pamtester(alone, user, totp(secret, 2))
    assert refused.returncode != 0 and "Verification code" not in refused.stdout + refused.stderr


def test_try_first_pass_asks_for_the_code_when_the_earlier_password_is_not_it(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    # A password shaped like a code: pam_unix accepts it, and the daemon refuses it as a code.
    password = wrong_code(secret)
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)

    def stack(flag, first="auth requisite pam_unix.so\n"):
        service = pam_service(f"socket={tools.daemon.socket} {flag}")
        path = Path("/etc/pam.d", service)
        path.write_text(first + path.read_text())
        return service

    def login(service, *typed):
        result = subprocess.run(["pamtester", service, user, "authenticate"], input="".join(t + "\n" for t in typed),
                                capture_output=True, text=True, timeout=30)
        return result, result.stdout + result.stderr

    # Codes from one fixed moment: the step after the one `right` uses stays the next unused one
    # inside the window whether or not a step boundary passes meanwhile (drift is learned then).
    base = int(time.time())

    def code_after(steps):
        return subprocess.run(["oathtool", "--totp", "--base32", f"--now=@{base + 30 * steps}", secret],
                              capture_output=True, text=True, check=True).stdout.strip()

    tried = stack("try_first_pass")
    right, shown = login(tried, password, code_after(1))
    assert right.returncode == 0 and AUTH_OK in right.stdout, shown
    assert "Verification code: " in shown and "Wrong code." not in shown
    wrong, shown = login(tried, password, wrong_code(secret))
    assert wrong.returncode != 0 and "Verification code: " in shown and AUTH_FAILED in wrong.stderr, shown

    # use_first_pass never asks: the same password is refused as the code.
    used, shown = login(stack("use_first_pass"), password, totp(secret, 2))
    assert used.returncode != 0 and "Verification code" not in shown, shown

    # A code typed at the password prompt (pam_unix fails, optional) is still taken without asking.
    taken, shown = login(stack("try_first_pass", "auth optional pam_unix.so\n"), code_after(2))
    assert taken.returncode == 0 and AUTH_OK in taken.stdout, shown
    assert "Verification code" not in shown


def test_unenrolled_allow_does_not_let_a_revoked_user_skip_the_code(tools, pam_service, make_user):
    revoked, newcomer = make_user(), make_user()
    secret = enroll(tools, revoked)
    withdrawn = tools.totpctl("revoke", revoked)
    assert withdrawn.returncode == 0, withdrawn.stderr
    service = pam_service(f"socket={tools.daemon.socket} unenrolled=allow")
    let_ignore_pass(service)  # PAM_IGNORE would pass: a refusal shows the module did not ignore
    refused = tools.pamtester(service, revoked, totp(secret, 1))
    assert refused.returncode != 0 and AUTH_FAILED in refused.stderr, refused.stdout + refused.stderr
    assert "Verification code" in refused.stdout + refused.stderr
    skipped = subprocess.run(["pamtester", service, newcomer, "authenticate"], input="", capture_output=True,
                             text=True, timeout=30)
    assert skipped.returncode == 0, skipped.stderr  # never enrolled: still let through unasked
