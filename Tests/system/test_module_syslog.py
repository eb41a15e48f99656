"""The module's syslog lines: LOG_AUTHPRIV facility, informative, and never the typed code.
Listens on /dev/log for the duration of real pamtester runs (on a machine without a syslog
daemon, such as CI; where /dev/log is taken the test says so and is skipped)."""

import os
import re
import socket
import threading
from pathlib import Path

import pytest

from conftest import totp, wrong_code
from test_pam_login import enroll

LOG_AUTHPRIV = 10


@pytest.fixture
def syslog_lines():
    if Path("/dev/log").exists():
        pytest.skip("/dev/log belongs to the system's syslog; read the journal instead")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    lines = []

    def receive():
        while True:
            try:
                lines.append(listener.recv(4096).decode(errors="replace"))
            except OSError:
                return

    threading.Thread(target=receive, daemon=True).start()
    yield lines
    listener.close()
    os.unlink("/dev/log")


def test_syslog_lines_are_authpriv_and_never_hold_the_code(tools, pam_service, make_user, syslog_lines):
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket} debug")
    right, wrong = totp(secret, 1), wrong_code(secret)
    assert tools.pamtester(service, user, right).returncode == 0
    assert tools.pamtester(service, user, wrong).returncode != 0
    assert tools.pamtester(service, user, "12ab56").returncode != 0
    module_lines = [line for line in syslog_lines if "pam_totpd" in line]
    assert any("accepted the code of user" in line for line in module_lines), syslog_lines
    assert any("wrong or already used code" in line for line in module_lines), syslog_lines
    for line in module_lines:
        priority = int(re.match(r"<(\d+)>", line).group(1))
        assert priority >> 3 == LOG_AUTHPRIV, line
        assert right not in line and wrong not in line and "12ab56" not in line, line
