"""`totpctl enroll` on a terminal, driven through a real pseudo-terminal: QR, secret, a wrong code
(asked again), the right code, then the recovery codes once."""

import json
import os
import re

import pexpect

from conftest import totp, wrong_code


def test_interactive_enrollment_on_a_terminal(tools, make_user, workdir):
    user = make_user()
    environment = dict(os.environ, TOTPD_SOCKET=tools.daemon.socket, COLUMNS="120")
    child = pexpect.spawn(str(workdir / "totpctl"), ["enroll", "--user", user], env=environment,
                          encoding="utf-8", timeout=20, dimensions=(60, 120))
    child.expect(r"Secret: ([A-Z2-7 ]+)\r\n")
    secret = child.match.group(1).replace(" ", "")
    assert "█" in child.before  # the QR code came first
    child.expect("Enter the 6-digit code from your app: ")
    child.sendline(wrong_code(secret))
    child.expect("That code is not right")
    child.expect("Enter the 6-digit code from your app: ")
    child.sendline(totp(secret))
    child.expect(f"{user} is enrolled.")
    child.expect("store them offline")
    child.expect(pexpect.EOF)
    codes = re.findall(r"^  ([a-z2-7]{5}-[a-z2-7]{5})\r?$", child.before, re.MULTILINE)
    child.close()
    assert child.exitstatus == 0
    assert len(set(codes)) == 10
    status = json.loads(tools.totpctl("status", "--user", user, "--json").stdout)
    assert status["state"] == "active" and status["recovery_codes_left"] == 10


def test_three_wrong_codes_void_the_enrollment(tools, make_user, workdir):
    user = make_user()
    environment = dict(os.environ, TOTPD_SOCKET=tools.daemon.socket)
    child = pexpect.spawn(str(workdir / "totpctl"), ["enroll", "--user", user, "--qr=none"], env=environment,
                          encoding="utf-8", timeout=20)
    child.expect(r"Secret: ([A-Z2-7 ]+)\r\n")
    secret = child.match.group(1).replace(" ", "")
    for _ in range(3):
        child.expect("Enter the 6-digit code from your app: ")
        child.sendline(wrong_code(secret))
    child.expect("no right code after 3 attempts")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0
    assert json.loads(tools.totpctl("status", "--user", user, "--json").stdout)["state"] == "none"
