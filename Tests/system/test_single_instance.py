"""One daemon per store: a second real daemon on the same state directory refuses to start and
says which daemon holds it; the first keeps serving; once it is gone, however it went (a clean
stop or kill -9), the store is free again."""

import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import Daemon


def second_daemon(workdir, daemon):
    """The same store served on another socket."""
    return [*daemon.command()[:3], "--socket", str(workdir / "second.socket"), "--state-dir", daemon.state,
            "--issuer", "system-test"]


def test_a_second_daemon_on_the_same_store_refuses_to_start(workdir, daemon, tools):
    refused = subprocess.run(second_daemon(workdir, daemon), capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode != 0
    assert f"another totpd (pid {daemon.process.pid}) is serving the store in {daemon.state}" in refused.stderr
    assert not (workdir / "second.socket").exists()
    # The first one still answers.
    assert tools.totpctl("list").returncode == 0


def test_the_store_is_free_once_the_daemon_is_gone(workdir, daemon, tools):
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=15)
    after_crash = Daemon(workdir, config=daemon.config.read_text())
    after_crash.start()
    try:
        assert tools.totpctl("list").returncode == 0
    finally:
        after_crash.stop()


def test_removing_the_lock_file_lets_no_second_daemon_in(workdir, daemon, tools):
    (Path(daemon.state) / "totpd.lock").unlink()
    refused = subprocess.run(second_daemon(workdir, daemon), capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode != 0
    assert f"is serving the store in {daemon.state}" in refused.stderr


def test_a_draining_daemon_leaves_its_successors_sockets_alone(workdir, daemon, tools):
    # The old daemon still drains a silent connection when the new one, on its own store,
    # binds the same paths; the old one's exit must not remove them.
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(daemon.socket)
    daemon.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    successor = Daemon(workdir, config=daemon.config.read_text())
    successor.state = str(workdir / "successor-state")
    successor.start()
    try:
        assert daemon.process.wait(timeout=30) == 0
        silent.close()
        for path in (successor.socket, successor.socket + ".root"):
            assert Path(path).is_socket(), f"{path} went with the old daemon"
        assert tools.totpctl("list").returncode == 0
    finally:
        successor.stop()
