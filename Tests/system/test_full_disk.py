"""Full and read-only disks under the real daemon, the faults made by the real mechanisms: a
small tmpfs filled past the space reserve, and an ext4 store the kernel turns read-only on a
filesystem error (errors=remount-ro). Whatever the disk does, no wrong code is accepted, no
right code is accepted without its step stored, the daemon says why in its log, and nothing that
was acknowledged is lost or corrupt."""

import errno
import os
import signal
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import Daemon, Tools, totp, wrong_code
from test_pam_login import enroll
from test_reviewed_attacks import RELAXED, fill, small_disk  # noqa: F401 (small_disk is a fixture)
from wire import exchange

# Enrolling used the current step; a wider window leaves steps ahead for each verification.
UNAVAILABLE = "Authentication service cannot retrieve authentication info"  # PAM_AUTHINFO_UNAVAIL
NO_ROOT_BLOCKS = "the state directory's filesystem keeps no blocks for root"
CONFIG = RELAXED + "verification:\n  window: 3\n"


def verify(daemon, user, code):
    """VERIFY over root's socket, as the login stack asks; the result's name."""
    return exchange(daemon.socket + ".root", "VERIFY", user=user, code=code, service="sshd")[0]


def integrity(state):
    with sqlite3.connect(f"file:{state}/totpd.sqlite?mode=ro", uri=True) as database:
        return database.execute("PRAGMA integrity_check").fetchone()[0]


def restart(daemon):
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()
    daemon.start()


@contextmanager
def enrolled_daemon(workdir, state, make_user):
    """A daemon on `state` and an account enrolled there: (daemon, tools, user, secret)."""
    daemon = Daemon(workdir, CONFIG)
    daemon.state = str(state)
    daemon.start()
    try:
        tools = Tools(workdir, daemon)
        user = make_user()
        yield daemon, tools, user, enroll(tools, user)
    finally:
        daemon.stop()


def assert_fails_closed(tools, service, user, secret, right, line):
    """Neither the right code nor a wrong one is accepted, the login fails, and the log says why."""
    assert verify(tools.daemon, user, right) == "INTERNAL_ERROR"
    assert verify(tools.daemon, user, wrong_code(secret)) != "OK"
    login = tools.pamtester(service, user, right)
    assert login.returncode != 0 and UNAVAILABLE in login.stderr, login.stderr
    assert line in tools.daemon.logged()


def test_past_the_reserve_no_code_is_accepted_and_service_resumes_when_space_is_freed(
        workdir, small_disk, pam_service, make_user):
    with enrolled_daemon(workdir, small_disk / "state", make_user) as (daemon, tools, user, secret):
        # tmpfs keeps no blocks for root: a user writing there could take what the reserve frees.
        assert NO_ROOT_BLOCKS in daemon.logged()
        fill(small_disk)
        # The reserve lets the first verification commit; filling the space it left ends that.
        stored = totp(secret, 1)
        assert verify(daemon, user, stored) == "OK", daemon.logged()
        filler = fill(small_disk)
        assert os.statvfs(small_disk).f_bavail == 0
        right = totp(secret, 2)
        assert_fails_closed(tools, pam_service(f"socket={daemon.socket}"), user, secret, right,
                            "the store could not be written: the disk is full")
        assert integrity(daemon.state) == "ok"

        # Space freed: the same daemon serves again, and the code refused while full is good once.
        filler.unlink()
        assert verify(daemon, user, right) == "OK", daemon.logged()
        assert verify(daemon, user, right) == "REJECTED"
        # What it acknowledged on the full disk was on disk: a used step stays used after kill -9.
        restart(daemon)
        assert verify(daemon, user, stored) != "OK"
        assert verify(daemon, user, right) != "OK"
        assert integrity(daemon.state) == "ok"


@pytest.fixture
def ext4_store(workdir):
    """An ext4 filesystem on a loop device that the kernel remounts read-only on an error."""
    image, mount = workdir / "store.img", workdir / "store"
    mount.mkdir()
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], check=True)
    mount.chmod(0o700)
    yield image, mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def trigger_filesystem_error(mount):
    device = Path(subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mount)], capture_output=True, text=True,
                                 check=True).stdout.strip()).name
    Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("system test\n")
    with pytest.raises(OSError) as refused:
        (mount / "probe").write_text("")
    assert refused.value.errno == errno.EROFS


def test_a_store_the_kernel_turns_read_only_fails_closed_and_keeps_what_was_acknowledged(
        workdir, ext4_store, pam_service, make_user):
    # Linux refuses to remount a filesystem read-only while files on it are open for writing, so
    # a live store turns read-only through a filesystem error; only fsck and a new mount undo it.
    image, mount = ext4_store
    with enrolled_daemon(workdir, mount / "state", make_user) as (daemon, tools, user, secret):
        assert NO_ROOT_BLOCKS not in daemon.logged()  # ext4 keeps 5% for root
        stored = totp(secret, 1)
        assert verify(daemon, user, stored) == "OK"
        trigger_filesystem_error(mount)
        right = totp(secret, 2)
        assert_fails_closed(tools, pam_service(f"socket={daemon.socket}"), user, secret, right,
                            "the store could not be written: the filesystem is read-only or failing")

        # The admin's repair: stop the daemon, check the filesystem, mount it again, start.
        daemon.stop()
        subprocess.run(["umount", str(mount)], check=True)
        subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True)
        subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], check=True)
        daemon.start()
        assert integrity(daemon.state) == "ok"
        assert verify(daemon, user, stored) != "OK"
        assert verify(daemon, user, right) == "OK"


def test_a_read_only_state_directory_stops_the_daemon_at_start(workdir, make_user):
    first = Daemon(workdir, CONFIG)
    first.start()
    first.stop()
    subprocess.run(["mount", "--bind", "-o", "ro", first.state, first.state], check=True)
    try:
        started = subprocess.run(Daemon(workdir, CONFIG).command(), capture_output=True, text=True, timeout=20)
        assert started.returncode != 0
        assert "Read-only file system" in started.stderr, started.stderr
    finally:
        subprocess.run(["umount", first.state], check=False)
