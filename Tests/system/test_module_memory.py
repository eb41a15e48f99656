"""valgrind over real pamtester runs of the built module: no invalid reads or writes, no leaks,
on the success path and on each way of failing."""

import subprocess
from pathlib import Path

import pexpect
import pytest

from conftest import totp, wrong_code
from test_pam_login import enroll


@pytest.fixture
def daemon_config():
    return "rate_limit:\n  attempts: 20\nenroll_at_login: [\"*\"]\n"


VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99"]


def under_valgrind(service, user, typed):
    return subprocess.run(VALGRIND + ["pamtester", service, user, "authenticate"],
                          input=typed + "\n", capture_output=True, text=True, timeout=120)


def test_module_is_clean_under_valgrind(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket} timeout=2")
    cases = [
        ("right code", totp(secret, 1), 0),
        ("wrong code", wrong_code(secret), 1),
        ("not a code", "12ab56", 1),
        ("recovery-shaped", "abcde-fghij", 1),
    ]
    for name, typed, status in cases:
        run = under_valgrind(service, user, typed)
        assert run.returncode == status, (name, run.stderr[-2000:])
        assert "ERROR SUMMARY: 0 errors" in run.stderr, (name, run.stderr[-2000:])
        assert "All heap blocks were freed" in run.stderr, (name, run.stderr[-2000:])
    # try_first_pass: pam_unix's "password" (PAM_AUTHTOK) is sent first, refused, and the code is asked.
    tried = pam_service(f"socket={tools.daemon.socket} timeout=2 try_first_pass")
    path = Path("/etc/pam.d", tried)
    path.write_text("auth optional pam_unix.so\n" + path.read_text())
    run = under_valgrind(tried, user, wrong_code(secret) + "\n" + totp(secret, 2))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ERROR SUMMARY: 0 errors" in run.stderr and "All heap blocks were freed" in run.stderr, run.stderr[-2000:]
    tools.daemon.stop()
    down = under_valgrind(service, user, totp(secret, 2))
    assert down.returncode == 1 and "ERROR SUMMARY: 0 errors" in down.stderr, down.stderr[-2000:]
    assert "All heap blocks were freed" in down.stderr


def test_enrollment_at_login_is_clean_under_valgrind(tools, pam_service, make_user):
    service = pam_service(f"socket={tools.daemon.socket} unenrolled=enroll")
    # Three answers that are not codes: the dialogue ends refused.
    refused = under_valgrind(service, make_user(), "nope\nnope\nnope")
    assert refused.returncode == 1 and "ERROR SUMMARY: 0 errors" in refused.stderr, refused.stderr[-2000:]
    assert "All heap blocks were freed" in refused.stderr
    # The whole way: QR code, key, the right code, the recovery codes.
    session = pexpect.spawn(VALGRIND[0], VALGRIND[1:] + ["pamtester", service, make_user(), "authenticate"],
                            encoding="utf-8", timeout=120)
    session.expect(r"type this key into the app: ([A-Z2-7 ]+)\r?\n")
    key = session.match.group(1).replace(" ", "")
    session.expect_exact("Code shown by the app: ")
    session.sendline(totp(key))
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0, session.before[-2000:]
    assert "recovery codes" in session.before
    assert "ERROR SUMMARY: 0 errors" in session.before and "All heap blocks were freed" in session.before
