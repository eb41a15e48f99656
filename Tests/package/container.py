"""A Debian 12 system booted with systemd-nspawn, systemd as its PID 1, for the package's tests.

The tree comes from debootstrap once and is kept under build/nspawn; every boot starts from it
afresh (`--volatile=overlay`: what a test writes lands in memory and is gone at shutdown). The
container has no network but loopback. Commands enter it with nsenter, in all of its namespaces,
as a shell on the host would after `machinectl shell` (machined does not run on the host here).
"""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
# What the tests use in the container, and the libraries the package's Depends names (installing
# the package there, with no network, fails if one is missing).
PACKAGES = ["systemd", "systemd-sysv", "dbus", "libpam-runtime", "sudo", "pamtester", "passwd",
            "procps", "libqrencode4", "libsqlite3-0"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tree():
    """The debootstrap tree for PACKAGES, made on first use (about two minutes)."""
    name = hashlib.sha256(" ".join([SUITE, *PACKAGES]).encode()).hexdigest()[:12]
    path = ROOT / "build/nspawn" / f"{SUITE}-{name}"
    if not (path / "etc/os-release").exists():
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE,
                               str(partial), MIRROR], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        partial.rename(path)
    return path


class Container:
    """One boot of tree(); `binds` are host directories mounted read-only at the same paths."""

    def __init__(self, name, binds=()):
        self.name, self.binds = name, binds
        self.log = ROOT / "build/nspawn" / f"{name}.console.log"

    def __enter__(self):
        base = tree()
        command = ["systemd-nspawn", "--quiet", "--directory", str(base), "--machine", self.name, "--boot",
                   "--volatile=overlay", "--private-network", "--register=no", "--keep-unit",
                   "--console=read-only", *(f"--bind-ro={path}" for path in self.binds)]
        with open(self.log, "wb") as console:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.leader = self._find_init()
            state = self._wait_for_boot()
            assert state == "running", f"the container's systemd is {state}: " + self.run(
                "systemctl", "--failed", "--no-legend", check=False).stdout
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_):
        # SIGTERM makes nspawn power the container off (systemd's shutdown); then it exits.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _find_init(self):
        """The host pid of the container's PID 1: nspawn's descendant that is pid 1 in its namespace."""
        for _ in range(300):
            assert self.process.poll() is None, "systemd-nspawn exited: " + self.log.read_text(errors="replace")[-3000:]
            for pid in descendants(self.process.pid):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except FileNotFoundError:
                    continue
                nspids = next(line for line in status.splitlines() if line.startswith("NSpid:")).split()
                # Pid 1 is nspawn's own child until it execs systemd.
                if len(nspids) > 2 and nspids[-1] == "1" and Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return pid
            time.sleep(0.1)
        raise AssertionError("the container's init did not start")

    def _wait_for_boot(self):
        """systemd's state once the boot is over; until PID 1 listens, systemctl answers nothing or "offline"."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", "--wait", check=False).stdout.strip()
            if state not in ("", "offline"):
                return state
            time.sleep(0.2)
        return "not answering"

    def enter(self, *command, user=None):
        """argv that runs command in the container, as root or as `user` (through runuser)."""
        inner = ["runuser", "-u", user, "--", *command] if user else list(command)
        return ["nsenter", "--target", str(self.leader), "--all", "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8",
                *inner]

    def run(self, *command, user=None, input=None, check=True, timeout=120):
        done = subprocess.run(self.enter(*command, user=user), input=input, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def show(self, unit, *properties):
        """systemctl show's values, as a dict."""
        lines = self.run("systemctl", "show", unit, *(f"--property={name}" for name in properties)).stdout
        return dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)


def descendants(pid):
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(next(line for line in (entry / "status").read_text().splitlines()
                                  if line.startswith("PPid:")).split()[1])
            except (FileNotFoundError, ProcessLookupError, StopIteration):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found
