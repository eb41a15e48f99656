"""Real OpenSSH: a private sshd on a loopback port with its own host key and configuration, a PAM
service selected by the program name (sshd takes the service name from argv[0]), and logins with
paramiko's keyboard-interactive, alone and after a public key."""

import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from conftest import Daemon, Tools, totp, wrong_code
from test_pam_login import enroll

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def daemon_config():
    return "rate_limit:\n  attempts: 20\n"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SSHServer:
    """`before` holds PAM lines put ahead of the shipped pam_totpd.so line (a password module)."""

    def __init__(self, workdir, tools, methods, arguments="", service=None, before=""):
        self.port = free_port()
        self.service = service or "totpd-sshd-" + secrets.token_hex(4)
        self.directory = workdir / "sshd"
        self.directory.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.directory / "host")], check=True)
        # The shipped snippet, plus what a private test instance needs.
        snippet = (REPOSITORY / "config/sshd_config.d/totpd.conf").read_text()
        (self.directory / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.directory / 'host'}\n"
            f"PidFile {self.directory / 'sshd.pid'}\nStrictModes no\n"
            + snippet.replace("AuthenticationMethods publickey,keyboard-interactive", f"AuthenticationMethods {methods}"))
        shipped = (REPOSITORY / "config/pam.d/sshd").read_text()
        module_line = re.compile(r"^auth\s.*\spam_totpd\.so$", re.MULTILINE)
        assert len(module_line.findall(shipped)) == 1
        Path("/etc/pam.d", self.service).write_text(module_line.sub(
            lambda line: before + line[0].replace(
                " pam_totpd.so", f" {workdir / 'pam_totpd.so'} socket={tools.daemon.socket} {arguments}"),
            shipped))
        self.program = self.directory / self.service
        self.program.symlink_to("/usr/sbin/sshd")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = open(self.directory / "sshd.log", "w+")
        self.process = subprocess.Popen([str(self.program), "-D", "-e", "-f", str(self.directory / "sshd_config")],
                                        stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, self.logged()
                time.sleep(0.1)
        raise AssertionError("sshd did not listen:\n" + self.logged())

    def logged(self):
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        Path("/etc/pam.d", self.service).unlink(missing_ok=True)


class Login:
    """One SSH login attempt; remembers the prompts the server sent. `answer` is the text typed at
    every prompt, or a function from the prompt's text to it. The login runs a command, or with
    `shell` an interactive shell on a pty that runs it."""

    def __init__(self, port, user, answer, key=None, shell=False):
        self.prompts = []
        self.output = None
        transport = paramiko.Transport(("127.0.0.1", port))
        try:
            transport.start_client(timeout=10)
            if key is not None:
                remaining = transport.auth_publickey(user, key)
                assert remaining == ["keyboard-interactive"], remaining

            def handler(title, instructions, prompts):
                self.prompts += [text for text, _ in prompts]
                return [answer(text) if callable(answer) else answer for text, _ in prompts]

            try:
                transport.auth_interactive(user, handler)
            except paramiko.AuthenticationException:
                return
            channel = transport.open_session()
            if shell:  # sshd shows PAM's messages after the last prompt only to a login shell
                channel.get_pty()
                channel.invoke_shell()
                channel.sendall(b"echo logged-in-as-$(id -un); exit\n")
            else:
                channel.exec_command("echo logged-in-as-$(id -un)")
            self.output = channel.makefile().read().decode().replace("\r\n", "\n").strip()
        finally:
            transport.close()


@pytest.fixture
def make_ssh_user():
    """Users with a home (for authorized_keys) and a login shell; with a password if given."""
    created = []

    def make(password=None):
        name = "totpdh" + secrets.token_hex(4)
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        created.append(name)
        if password is not None:
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        return name

    yield make
    for name in created:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


@pytest.fixture
def ssh_user(make_ssh_user):
    return make_ssh_user()


@pytest.mark.parametrize("methods, arguments, prompt", [
    ("keyboard-interactive", "[prompt=SSH one-time code: ]", "SSH one-time code: "),
    ("publickey,keyboard-interactive", "", "Verification code: "),
])
def test_ssh_login_with_code(tools, workdir, ssh_user, methods, arguments, prompt):
    secret = enroll(tools, ssh_user)
    key = None
    if methods.startswith("publickey"):
        key = paramiko.Ed25519Key.from_private_key_file(str(make_user_key(ssh_user, workdir)))
    server = SSHServer(workdir, tools, methods, arguments)
    try:
        code = totp(secret, 1)
        good = Login(server.port, ssh_user, code, key)
        assert good.output == f"logged-in-as-{ssh_user}", server.logged()
        assert good.prompts and good.prompts[-1].endswith(prompt), good.prompts
        assert Login(server.port, ssh_user, code, key).output is None  # replayed
        assert Login(server.port, ssh_user, wrong_code(secret), key).output is None
    finally:
        server.stop()


def make_user_key(user, workdir):
    private = workdir / f"{user}-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(private)], check=True)
    ssh = Path(f"/home/{user}/.ssh")
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(Path(f"{private}.pub").read_text())
    subprocess.run(["chown", "-R", f"{user}:{user}", str(ssh)], check=True)
    return private


# With a key, the shipped file as it is; with keyboard-interactive alone, OPERATIONS.md's
# password-and-code stack: `auth requisite pam_unix.so` put before the shipped lines.
@pytest.mark.parametrize("methods, before", [
    ("publickey,keyboard-interactive", ""),
    ("keyboard-interactive", "auth requisite pam_unix.so\n"),
], ids=["key-and-code", "password-and-code"])
def test_exempt_user_logs_in_without_a_code_and_the_others_still_need_one(workdir, make_ssh_user, methods, before):
    password = "Pw-" + secrets.token_hex(8)
    exempt, enrolled, newcomer = (make_ssh_user(password) for _ in range(3))
    # The exemption names the user, so this test starts its own daemon once the names exist.
    daemon = Daemon(workdir, f"rate_limit:\n  attempts: 20\nsecond_factor:\n  exempt: [{exempt}]\n")
    daemon.start()
    server = None
    try:
        tools = Tools(workdir, daemon)
        secret = enroll(tools, enrolled)
        server = SSHServer(workdir, tools, methods, before=before)
        keys = {}
        if methods.startswith("publickey"):
            keys = {user: paramiko.Ed25519Key.from_private_key_file(str(make_user_key(user, workdir)))
                    for user in (exempt, enrolled, newcomer)}

        def login(user, code, typed_password=password):
            def answer(prompt):
                return typed_password if prompt.endswith("Password: ") else code
            return Login(server.port, user, answer, keys.get(user))

        def asked_for_code(attempt):
            return any(prompt.endswith("Verification code: ") for prompt in attempt.prompts)

        # Exempt: in with the key or the password alone, never asked for a code.
        free = login(exempt, "000000")
        assert free.output == f"logged-in-as-{exempt}", server.logged() + daemon.logged()
        assert not asked_for_code(free), free.prompts
        if before:  # what runs before pam_totpd still decides: a wrong password is refused
            assert login(exempt, "000000", typed_password="not-the-password").output is None

        # Enrolled and not exempt: a wrong code is refused, the right one lets the user in.
        wrong = login(enrolled, wrong_code(secret))
        assert wrong.output is None and asked_for_code(wrong), wrong.prompts
        assert login(enrolled, totp(secret, 1)).output == f"logged-in-as-{enrolled}", server.logged()

        # Not exempt and not enrolled: prompted like anyone, and refused.
        refused = login(newcomer, "123456")
        assert refused.output is None and asked_for_code(refused), refused.prompts

        # pam_permit.so follows only PAM_IGNORE: with the daemon down even the exempt user is refused.
        daemon.stop()
        assert login(exempt, "000000").output is None
    finally:
        if server is not None:
            server.stop()
        daemon.stop()
