"""Fixtures for the system tests: the real daemon binary on a temporary socket, the real CLI,
the freshly built PAM module loaded by real libpam through pamtester, and real system users."""

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _binary(variable):
    path = os.environ.get(variable)
    assert path and Path(path).is_file(), f"{variable} must name a built file (run through `make test`)"
    return path


@pytest.fixture(scope="session", autouse=True)
def require_root():
    assert os.geteuid() == 0, "system tests create users and PAM services: run `make test` as root"


@pytest.fixture
def workdir():
    # Reachable by unprivileged test users: they connect to the socket and run the copied binaries.
    path = Path(tempfile.mkdtemp(prefix="totpd-system-", dir="/tmp"))
    path.chmod(0o755)
    for variable, name in [("TOTPCTL_BIN", "totpctl"), ("PAM_MODULE", "pam_totpd.so")]:
        shutil.copy(_binary(variable), path / name)
        (path / name).chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Daemon:
    def __init__(self, workdir, config="", environment=None, prefix=None):
        """`environment` (extra variables) and `prefix` (a command to run it under) are for the NSS
        stand-in (Tests/system/nss_standin.py)."""
        self.workdir = workdir
        self.environment = dict(environment or {})
        self.prefix = list(prefix or [])
        self.socket = str(workdir / "socket")
        self.state = str(workdir / "state")
        self.config = workdir / "totpd.conf"
        self.config.write_text(config)
        self.log = open(workdir / "totpd.log", "w+")
        self.process = None

    def command(self):
        return [_binary("TOTPD_BIN"), "--config", str(self.config), "--socket", self.socket, "--state-dir", self.state,
                "--issuer", "system-test"]

    def start(self, command=None):
        self.process = subprocess.Popen(self.prefix + (command or self.command()),
                                        env=dict(os.environ, **self.environment), stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"totpd exited early:\n{self.logged()}"
            try:
                # A daemon that binds its own sockets binds root's after the public one.
                for path in [self.socket] + ([self.socket + ".root"] if command is None else []):
                    with socket.socket(socket.AF_UNIX) as probe:
                        probe.connect(path)
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"totpd did not listen:\n{self.logged()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            assert self.process.wait(timeout=15) == 0, f"totpd did not stop cleanly:\n{self.logged()}"

    def logged(self):
        self.log.flush()
        return Path(self.log.name).read_text()


@pytest.fixture
def daemon_config():
    """The daemon's configuration file text; a test module overrides this fixture to change it."""
    return ""


@pytest.fixture
def daemon(workdir, daemon_config):
    running = Daemon(workdir, daemon_config)
    running.start()
    yield running
    running.stop()
    log = running.logged()
    running.log.close()
    return log


@pytest.fixture
def make_user():
    created = []

    def make():
        name = "totpdt" + secrets.token_hex(4)
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        created.append(name)
        return name

    yield make
    for name in created:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def make_group():
    created = []

    def make(*members):
        name = "totpdg" + secrets.token_hex(4)
        subprocess.run(["groupadd", name], check=True)
        for member in members:
            subprocess.run(["usermod", "-a", "-G", name, member], check=True)
        created.append(name)
        return name

    yield make
    for name in created:
        subprocess.run(["groupdel", name], check=False)


@pytest.fixture
def pam_service(workdir):
    """Writes /etc/pam.d/<name> using the built module; returns the service name."""
    created = []

    def make(arguments):
        name = "totpd-test-" + secrets.token_hex(4)
        Path("/etc/pam.d", name).write_text(f"auth required {workdir / 'pam_totpd.so'} {arguments}\n")
        created.append(name)
        return name

    yield make
    for name in created:
        Path("/etc/pam.d", name).unlink(missing_ok=True)


def let_ignore_pass(service):
    """Rewrites a test PAM service so PAM_IGNORE from pam_totpd passes on to pam_permit, while any
    other failure of pam_totpd ends the stack: success then proves the module ignored the user."""
    path = Path("/etc/pam.d", service)
    path.write_text(path.read_text().replace("auth required", "auth [success=ok ignore=ignore default=die]")
                    + "auth required pam_permit.so\n")


def in_process_of(user, function):
    """Runs `function` in a child process with `user`'s uid (and that number as gid, as useradd
    makes it) and returns what it returned (JSON-able); fails if the child did."""
    uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 1
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.write(write, json.dumps(function()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    output = b""
    while chunk := os.read(read, 65536):
        output += chunk
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0, f"the process of {user} failed"
    return json.loads(output)


def as_user(user, command):
    return ["runuser", "-u", user, "--"] + command if user else command


class Tools:
    def __init__(self, workdir, daemon):
        self.workdir = workdir
        self.daemon = daemon

    def totpctl(self, *arguments, user=None, codes=()):
        """Runs totpctl; `codes` are typed on standard input, one per line, as scripts give them."""
        command = as_user(user, [str(self.workdir / "totpctl")] + list(arguments))
        environment = dict(os.environ, TOTPD_SOCKET=self.daemon.socket)
        return subprocess.run(command, capture_output=True, text=True, env=environment,
                              input="".join(code + "\n" for code in codes), timeout=30)

    def pamtester(self, service, account, code, user=None):
        command = as_user(user, ["pamtester", service, account, "authenticate"])
        started = time.monotonic()
        result = subprocess.run(command, input=code + "\n", capture_output=True, text=True, timeout=30)
        result.elapsed = time.monotonic() - started
        return result


@pytest.fixture
def tools(workdir, daemon):
    return Tools(workdir, daemon)


def totp(secret, offset_steps=0):
    """The code for now + offset steps, computed by oathtool, an independent implementation."""
    moment = int(time.time()) + 30 * offset_steps
    return subprocess.run(["oathtool", "--totp", "--base32", f"--now=@{moment}", secret],
                          capture_output=True, text=True, check=True).stdout.strip()


def wrong_code(secret):
    near = {totp(secret, offset) for offset in range(-2, 3)}
    candidate = 0
    while f"{candidate:06d}" in near:
        candidate += 1
    return f"{candidate:06d}"
