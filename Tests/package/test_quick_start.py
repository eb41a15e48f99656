"""README's production quick start and its rollback, run as written on a booted Debian 12
(container.py): the commands come from README.md itself, so the README cannot drift from what
works. An ordinary user enrolls on a terminal and then uses sudo with password and code.
"""

import json
import os
import re
import subprocess
import time

import pexpect

from container import ROOT, Container

PASSWORD = "quick-start-" + os.urandom(6).hex()


def readme_commands():
    """The quick start's two shell blocks (setup, rollback), without their comments."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Production quick start"):text.index("## See it work")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2, blocks
    commands = [[re.sub(r"\s+#\s.*$", "", line) for line in block.splitlines() if line.strip()] for block in blocks]
    trial = re.search(r"try `([^`]+)` in another terminal", section)
    return commands[0], commands[1], trial.group(1)


def code(secret, steps_ahead=0):
    return subprocess.run(["oathtool", "--totp", "--base32", f"--now=@{int(time.time()) + 30 * steps_ahead}",
                           secret], capture_output=True, text=True, check=True).stdout.strip()


def terminal(container, user, command):
    """command as user on a terminal of its own, as a login shell would run it."""
    argv = container.enter("sh", "-c", command, user=user)
    return pexpect.spawn(argv[0], argv[1:], dimensions=(70, 160), encoding="utf-8", timeout=60)


def test_the_readme_quick_start_and_rollback_work_on_debian_12(packages):
    setup, rollback, trial = readme_commands()
    install, enroll, add_line, doctor = setup
    release = re.search(r'release = "([^"]+)"', (ROOT / "Sources/TOTPCore/TOTPVersion.swift").read_text()).group(1)
    assert install == f"apt-get install ./totpd_{release}_amd64.deb", install
    assert enroll == "totpctl enroll" and doctor == "totpctl doctor"

    with Container(f"totpd-quick-{os.getpid()}", binds=[ROOT / "build"]) as system:
        system.run("useradd", "--create-home", "--groups", "sudo", "--shell", "/bin/bash", "alice")
        system.run("chpasswd", input=f"alice:{PASSWORD}\n")

        installed = system.run("sh", "-c", f"cd {packages[0].parent} && "
                               + install.replace(f"totpd_{release}_amd64.deb", packages[0].name))
        assert "totpctl doctor" in installed.stdout

        session = terminal(system, "alice", enroll)
        session.expect(r"Secret: ([A-Z2-7 ]+)\r\n")
        secret = session.match.group(1).replace(" ", "")
        session.expect("Enter the 6-digit code from your app: ")
        session.sendline(code(secret))
        session.expect("alice is enrolled.")
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0

        system.run("sh", "-c", add_line)
        print(system.run("sh", "-c", doctor, check=False).stdout)
        report = json.loads(system.run("totpctl", "doctor", "--json", check=False).stdout)
        problems = [finding for finding in report["findings"] if finding["severity"] in ("error", "warning")]
        # What the README says doctor names: root, not enrolled. And a container runs no NTP
        # client of its own (it keeps the host's clock). Nothing else is wrong.
        assert {(finding["id"], finding["subject"]) for finding in problems} <= {
            ("enrollment.missing", "account root"), ("clock.unsynchronised", "clock")}, problems

        session = terminal(system, "alice", trial)
        session.expect(r"\[sudo\] password for alice: ")
        session.sendline(PASSWORD)
        session.expect("Verification code: ")
        session.sendline(code(secret, 1))
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0, session.before

        system.run("sh", "-c", rollback[0])
        session = terminal(system, "alice", trial)
        session.expect(r"\[sudo\] password for alice: ")
        session.sendline(PASSWORD)
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0 and "Verification code" not in session.before, session.before

        system.run("sh", "-c", rollback[1], input="y\n")
        for path in ("/var/lib/totpd", "/etc/totpd", "/usr/sbin/totpd"):
            assert system.run("test", "-e", path, check=False).returncode != 0, path
