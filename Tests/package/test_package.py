"""The Debian package through dpkg on this machine: install, upgrade to a higher version, remove
and purge, checking files, modes, owners and data at each step; and lintian with no error or
warning. Run by `make test-package` (as root) after `make deb`; it refuses to run where a totpd
package is installed already, since it purges its own."""

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
FILES = {  # path: (mode, is a regular file)
    "/usr/sbin/totpd": 0o755, "/usr/bin/totpctl": 0o755, f"/lib/{MULTIARCH}/security/pam_totpd.so": 0o644,
    "/lib/systemd/system/totpd.service": 0o644, "/lib/systemd/system/totpd.socket": 0o644,
    "/lib/systemd/system/totpd-root.socket": 0o644, "/etc/totpd/totpd.conf": 0o644,
    "/usr/share/man/man8/totpd.8.gz": 0o644, "/usr/share/man/man8/pam_totpd.8.gz": 0o644,
    "/usr/share/man/man1/totpctl.1.gz": 0o644, "/usr/share/doc/totpd/copyright": 0o644,
    "/usr/share/bash-completion/completions/totpctl": 0o644,
}
STATE = Path("/var/lib/totpd")
ADMIN_EDIT = "# an admin's edit, which an upgrade keeps\n"


def dpkg(*arguments):
    done = subprocess.run(["dpkg", *arguments], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def installed_version():
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", "totpd"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def assert_files_installed():
    for path, mode in FILES.items():
        info = os.lstat(path)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == mode, path
        assert (info.st_uid, info.st_gid) == (0, 0), path
    for unit in ("totpd.socket", "totpd-root.socket"):
        assert Path("/etc/systemd/system/sockets.target.wants", unit).is_symlink(), unit


class InstalledDaemon:
    """The packaged daemon with the packaged configuration, as systemd would start it."""

    def __enter__(self):
        self.process = subprocess.Popen(["/usr/sbin/totpd"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(200):
            if Path("/run/totpd/socket.root").exists():
                return self
            time.sleep(0.05)
        raise AssertionError("the packaged daemon did not listen")

    def __exit__(self, *_):
        self.process.terminate()
        assert self.process.wait(timeout=15) == 0


def totpctl(*arguments, codes=()):
    return subprocess.run(["/usr/bin/totpctl", *arguments], capture_output=True, text=True,
                          input="".join(code + "\n" for code in codes), timeout=30)


def enroll_an_account():
    name = "totpdpkg" + os.urandom(3).hex()
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    begun = totpctl("enroll", "--user", name, "--json")
    assert begun.returncode == 0, begun.stderr
    secret = json.loads(begun.stdout)["secret"]
    code = subprocess.run(["oathtool", "--totp", "--base32", secret], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert totpctl("confirm", "--user", name, codes=[code]).returncode == 0
    return name


def test_install_upgrade_remove_purge(packages):
    assert not installed_version(), "a totpd package is installed here; this test installs and purges its own"
    first, second = packages
    account = None
    try:
        dpkg("-i", str(first))
        assert installed_version() == "install ok installed 0.0.1+test1"
        assert_files_installed()
        assert "/etc/totpd/totpd.conf" in subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "totpd"],
                                                         capture_output=True, text=True).stdout
        with InstalledDaemon():
            account = enroll_an_account()
        assert stat.S_IMODE(STATE.stat().st_mode) == 0o700
        key = (STATE / "secret.key").read_bytes()
        with open("/etc/totpd/totpd.conf", "a") as configuration:
            configuration.write(ADMIN_EDIT)

        dpkg("-i", str(second))
        assert installed_version() == "install ok installed 0.0.1+test2"
        assert_files_installed()
        assert Path("/etc/totpd/totpd.conf").read_text().endswith(ADMIN_EDIT)
        assert (STATE / "secret.key").read_bytes() == key
        with InstalledDaemon():
            status = totpctl("status", account)
            assert status.returncode == 0 and "active" in status.stdout, status.stdout + status.stderr

        dpkg("-r", "totpd")
        assert not any(Path(path).exists() for path in FILES if not path.startswith("/etc/"))
        assert (STATE / "totpd.sqlite").exists() and (STATE / "secret.key").read_bytes() == key
        assert Path("/etc/totpd/totpd.conf").read_text().endswith(ADMIN_EDIT)

        dpkg("-P", "totpd")
        assert not installed_version()
        assert not STATE.exists() and not Path("/etc/totpd").exists()
        assert not Path("/etc/systemd/system/sockets.target.wants/totpd.socket").exists()
    finally:
        if installed_version():
            subprocess.run(["dpkg", "-P", "totpd"], capture_output=True)
        if account:
            subprocess.run(["userdel", account], check=False)


def test_lintian_reports_no_error_or_warning(packages):
    done = subprocess.run(["lintian", "--fail-on", "error,warning", str(packages[0])], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
