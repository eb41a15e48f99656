"""One daemon per store: a second real daemon on the same state directory refuses to start and
says which daemon holds it; the first keeps serving; once it is gone, however it went (a clean
stop or kill -9), the store is free again."""

import signal
import subprocess

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
