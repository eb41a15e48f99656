"""First-login enrollment inside the login (unenrolled=enroll): over a real sshd with a
keyboard-interactive client and through real sudo on a terminal, the QR code the user sees is
decoded by zbarimg, the code computed from the decoded URI (by oathtool) sets up the enrollment
and logs in, and the next login asks only for a code. Elsewhere the user is refused as with
unenrolled=deny."""

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import paramiko
import pexpect
import pytest

from conftest import totp, wrong_code
from test_pam_login import enroll
from test_qr_scannable import decode_utf8_qr
from test_sshd import Login, SSHServer, make_ssh_user, make_user_key, ssh_user  # noqa: F401 (fixtures)
from test_sudo import SudoUser

SSH_SERVICE = "totpd-enroll-sshd"
SUDO_SERVICE = "totpd-enroll-sudo"
PAM_SERVICE = "totpd-enroll-pam"
ENROLL_PROMPT = "Code shown by the app: "
RECOVERY_CODE = re.compile(r"\b[a-z2-7]{5}-[a-z2-7]{5}\b")


@pytest.fixture
def daemon_config():
    return f"enroll_at_login: [{SSH_SERVICE}, {SUDO_SERVICE}, {PAM_SERVICE}]\nrate_limit:\n  attempts: 20\n"


def secret_of(uri, user):
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.path == f"/system-test:{user}", uri
    return parse_qs(parsed.query)["secret"][0]


def audit(tools, user):
    listed = tools.totpctl("log", "--user", user, "--json")
    assert listed.returncode == 0, listed.stderr
    return [(row["event"], row["result"]) for row in json.loads(listed.stdout)]


class FirstLogin:
    """Answers sshd's prompts like a person with a phone: reads the QR code out of the prompt,
    scans it (zbarimg) and types the app's code (oathtool)."""

    def __init__(self, user, workdir):
        self.user, self.workdir = user, workdir
        self.secret = None

    def __call__(self, prompt):
        assert prompt.endswith(ENROLL_PROMPT), prompt
        uri = decode_utf8_qr(prompt, self.workdir / "ssh-qr.png")
        self.secret = secret_of(uri, self.user)
        # The typed key and the QR code agree.
        assert re.sub(r"(.{4})", r"\1 ", self.secret).strip() in prompt
        return totp(self.secret)


@pytest.mark.parametrize("methods", ["keyboard-interactive", "publickey,keyboard-interactive"])
def test_first_ssh_login_sets_up_the_code_and_the_next_asks_only_for_it(tools, workdir, ssh_user, methods):
    server = SSHServer(workdir, tools, methods, "unenrolled=enroll", service=SSH_SERVICE)
    key = None
    if methods.startswith("publickey"):  # the shipped configuration: the key first, then the code
        key = paramiko.Ed25519Key.from_private_key_file(str(make_user_key(ssh_user, workdir)))
    try:
        first = FirstLogin(ssh_user, workdir)
        login = Login(server.port, ssh_user, first, key, shell=True)
        assert login.output is not None, server.logged() + tools.daemon.logged()
        # The whole dialogue came before the one prompt, in messages sshd joined with newlines.
        assert len(login.prompts) == 1
        assert "Scan this QR code" in login.prompts[0]
        assert "totpctl recovery-codes --regenerate" in login.prompts[0]
        # A login shell shows what came after the prompt: the recovery codes.
        codes = RECOVERY_CODE.findall(login.output)
        assert len(set(codes)) == 10, login.output
        assert f"logged-in-as-{ssh_user}" in login.output
        status = json.loads(tools.totpctl("status", ssh_user, "--json").stdout)
        assert status["state"] == "active" and status["recovery_codes_left"] == 10

        # The next login asks only for a code, and a recovery code shown at setup works too.
        again = Login(server.port, ssh_user, totp(first.secret, 1), key)
        assert again.output == f"logged-in-as-{ssh_user}", server.logged()
        assert again.prompts == ["Verification code: "]
        assert Login(server.port, ssh_user, codes[0], key).output == f"logged-in-as-{ssh_user}"

        # Revoked (a lost phone), the user cannot set up a new factor at login: no QR code, refused.
        assert tools.totpctl("revoke", ssh_user).returncode == 0
        shut_out = Login(server.port, ssh_user, totp(first.secret, 2), key)
        assert shut_out.output is None and shut_out.prompts == ["Verification code: "]
        assert json.loads(tools.totpctl("status", ssh_user, "--json").stdout)["state"] == "revoked"
        assert audit(tools, ssh_user).count(("enroll-begin", "pending")) == 1
        # Reset by the admin, the next login sets up afresh: a new secret, the old one is void.
        assert tools.totpctl("reset", ssh_user).returncode == 0
        renewed = FirstLogin(ssh_user, workdir)
        assert Login(server.port, ssh_user, renewed, key).output == f"logged-in-as-{ssh_user}"
        assert renewed.secret != first.secret
        assert Login(server.port, ssh_user, totp(first.secret, 2), key).output is None
        assert ("login-enroll", "not-root") not in audit(tools, ssh_user)
    finally:
        server.stop()


def test_wrong_codes_during_setup_void_the_enrollment(tools, workdir, ssh_user):
    server = SSHServer(workdir, tools, "keyboard-interactive", "unenrolled=enroll", service=SSH_SERVICE)
    try:
        secrets_seen = []

        def mistype(prompt):
            if "Scan this QR code" in prompt:
                secrets_seen.append(secret_of(decode_utf8_qr(prompt, workdir / "qr.png"), ssh_user))
            return wrong_code(secrets_seen[-1])

        login = Login(server.port, ssh_user, mistype)
        assert login.output is None
        # Three tries within the login, the later ones after a "Wrong code." note.
        assert len(login.prompts) == 3 and all(p.endswith(ENROLL_PROMPT) for p in login.prompts)
        assert all("Wrong code." in p for p in login.prompts[1:])
        # The third wrong code voided the pending enrollment: its secret is no use to a guesser.
        status = json.loads(tools.totpctl("status", ssh_user, "--json").stdout)
        assert status["state"] == "none"
        assert ("enroll-confirm", "voided") in audit(tools, ssh_user)
    finally:
        server.stop()


def test_elsewhere_an_unenrolled_user_is_refused(tools, workdir, make_user, pam_service):
    user = make_user()
    not_listed = pam_service(f"socket={tools.daemon.socket} unenrolled=enroll")  # not in enroll_at_login
    result = tools.pamtester(not_listed, user, "123456")
    assert result.returncode != 0
    assert "Verification code:" in result.stdout + result.stderr
    assert "QR" not in result.stdout + result.stderr and "█" not in result.stdout
    assert ("login-enroll", "not-allowed-for-service") in audit(tools, user)

    # A listed service, but the module runs as the user (a screen locker, say): only a root
    # caller may start an enrollment at login, so this too is refused.
    listed = Path("/etc/pam.d", PAM_SERVICE)
    listed.write_text(Path("/etc/pam.d", not_listed).read_text())
    try:
        result = tools.pamtester(PAM_SERVICE, user, "123456", user=user)
        assert result.returncode != 0 and "█" not in result.stdout
        assert ("login-enroll", "not-root") in audit(tools, user)
    finally:
        listed.unlink()
    status = json.loads(tools.totpctl("status", user, "--json").stdout)
    assert status["state"] == "none"


def test_a_wrong_password_ends_a_requisite_stack_before_any_enrollment(tools, workdir):
    # The stack OPERATIONS.md asks for: the password module `requisite`, so that a failed password
    # never reaches the enrollment (with `required` PAM would run pam_totpd anyway).
    user = SudoUser(tools, workdir, PAM_SERVICE, "unenrolled=enroll")
    Path("/etc/pam.d", PAM_SERVICE).write_text(
        "auth requisite pam_unix.so\n"
        f"auth required {workdir / 'pam_totpd.so'} socket={tools.daemon.socket} unenrolled=enroll\n")
    try:
        wrong = subprocess.run(["pamtester", PAM_SERVICE, user.name, "authenticate"], input="not-the-password\n",
                               capture_output=True, text=True, timeout=30)
        assert wrong.returncode != 0 and "Scan this QR code" not in wrong.stdout + wrong.stderr
        assert not [event for event in audit(tools, user.name) if event[0].startswith(("enroll", "login-enroll"))]
        # The control: with the right password the same stack shows the QR code.
        right = subprocess.run(["pamtester", PAM_SERVICE, user.name, "authenticate"],
                               input=f"{user.password}\nnope\nnope\nnope\n", capture_output=True, text=True, timeout=30)
        assert right.returncode != 0 and "Scan this QR code" in right.stdout
    finally:
        user.remove()


@pytest.fixture
def sudo_user(tools, workdir):
    user = SudoUser(tools, workdir, SUDO_SERVICE, "unenrolled=enroll")
    yield user.name, user.password
    user.remove()


def test_first_sudo_sets_up_the_code_on_the_terminal(tools, workdir, sudo_user):
    user, password = sudo_user
    sudo = pexpect.spawn("runuser", ["-u", user, "--", "sudo", "-k", "echo", "sudo-ran"], encoding="utf-8",
                         timeout=30, dimensions=(60, 120))
    sudo.expect("password for")
    sudo.sendline(password)
    sudo.expect_exact(ENROLL_PROMPT)
    shown = sudo.before.replace("\r\n", "\n")
    uri = decode_utf8_qr(shown, workdir / "sudo-qr.png")
    secret = secret_of(uri, user)
    sudo.sendline(totp(secret))
    sudo.expect_exact("sudo-ran")
    codes = RECOVERY_CODE.findall(sudo.before)
    sudo.expect(pexpect.EOF)
    sudo.close()
    assert sudo.exitstatus == 0
    assert len(set(codes)) == 10, sudo.before

    # The next sudo asks for the password and a code, no QR code.
    again = subprocess.run(["runuser", "-u", user, "--", "sudo", "-S", "-k", "true"],
                           input=f"{password}\n{totp(secret, 1)}\n", capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "Verification code:" in again.stderr and "█" not in again.stderr + again.stdout
