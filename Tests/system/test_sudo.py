"""Real sudo: a user with a password and a sudoers rule that selects a PAM service stacking
pam_unix and pam_totpd (config/pam.d/sudo shows the same stack)."""

import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import Daemon, Tools, totp, wrong_code
from test_pam_login import enroll


@pytest.fixture
def daemon_config():
    return "rate_limit:\n  attempts: 20\n"


class SudoUser:
    """A user with a password and a sudoers rule selecting `service`, a PAM service made from the
    shipped config/pam.d/sudo with the freshly built module and the test daemon's socket."""

    def __init__(self, tools, workdir, service, module_arguments):
        self.name = "totpds" + secrets.token_hex(4)
        self.password = "Pw-" + secrets.token_hex(8)
        self.service = service
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", self.name], check=True)
        subprocess.run(["chpasswd"], input=f"{self.name}:{self.password}\n", text=True, check=True)
        self.sudoers = Path("/etc/sudoers.d", service)
        self.sudoers.write_text(
            f"Defaults:{self.name} pam_service={service}\nDefaults:{self.name} !lecture\n{self.name} ALL=(ALL) ALL\n")
        self.sudoers.chmod(0o440)
        shipped = (Path(__file__).resolve().parents[2] / "config/pam.d/sudo").read_text()
        assert shipped.count(" pam_totpd.so\n") == 1
        Path("/etc/pam.d", service).write_text(shipped.replace(
            " pam_totpd.so\n", f" {workdir / 'pam_totpd.so'} socket={tools.daemon.socket} {module_arguments}\n"))

    def remove(self):
        self.sudoers.unlink()
        Path("/etc/pam.d", self.service).unlink()
        subprocess.run(["userdel", "--remove", self.name], check=False, capture_output=True)


@pytest.fixture
def sudo_user(tools, workdir):
    user = SudoUser(tools, workdir, "totpd-sudo-" + secrets.token_hex(4), "timeout=2")
    yield user.name, user.password
    user.remove()


def sudo(user, password, code):
    """`sudo -S -k true` as the user; -S reads the password and then the code from stdin."""
    return subprocess.run(["runuser", "-u", user, "--", "sudo", "-S", "-k", "true"],
                          input=f"{password}\n{code}\n", capture_output=True, text=True, timeout=60)


def test_sudo_needs_password_and_a_fresh_code(tools, sudo_user):
    user, password = sudo_user
    secret = enroll(tools, user)
    code = totp(secret, 1)

    right = sudo(user, password, code)
    assert right.returncode == 0, right.stderr
    assert "Verification code:" in right.stderr

    assert sudo(user, password, code).returncode != 0  # replayed
    assert sudo(user, password, wrong_code(secret)).returncode != 0
    assert sudo(user, "not-the-password", totp(secret, 1)).returncode != 0

    tools.daemon.stop()
    down = sudo(user, password, totp(secret, 1))
    assert down.returncode != 0
    # sudo calls PAM with PAM_SILENT, so the module shows no message of its own here (the reason
    # goes to syslog); the password was right, the login still fails closed.
    assert "The verification service is unavailable." not in down.stderr


def test_exempt_user_gives_the_password_and_no_code(workdir, make_group):
    # pam_totpd.so ignores an exempt user; common-auth's pam_unix.so and pam_permit.so before it
    # have already succeeded, so the password alone decides.
    exempt = make_group()
    daemon = Daemon(workdir, f"second_factor:\n  exempt: [\"%{exempt}\"]\n")
    daemon.start()
    user = SudoUser(Tools(workdir, daemon), workdir, "totpd-sudo-" + secrets.token_hex(4), "timeout=2")
    try:
        subprocess.run(["usermod", "-a", "-G", exempt, user.name], check=True)
        right = sudo(user.name, user.password, "")
        assert right.returncode == 0, right.stderr
        assert "Verification code" not in right.stderr
        assert sudo(user.name, "not-the-password", "").returncode != 0
    finally:
        user.remove()
        daemon.stop()
