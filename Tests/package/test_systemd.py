"""The package under a real systemd as PID 1: a Debian 12 container booted with systemd-nspawn
(container.py). The maintainer scripts run there as on a server; the units' socket activation,
readiness, sandbox, restart and upgrade are exercised through real PAM (pamtester), totpctl as
root and as ordinary users, and journald. The tests of this module run in order on one boot.
"""

import base64
import json
import os
import re
import subprocess
import threading
import time

import pytest

from container import ROOT, Container

UNITS = ("totpd.socket", "totpd-root.socket", "totpd.service")
CHECK_SERVICE = "auth required pam_totpd.so\naccount required pam_permit.so\n"
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"  # journald's MESSAGE_ID of "Started UNIT"
LOOP_ACCOUNTS = 800
NO_RESERVE = ("the state directory's filesystem keeps no blocks for root: if users can write to it, they can fill it "
              "and make verifications fail")
RENICE_REFUSED = "Failed to set thread priority for worker thread:"


@pytest.fixture(scope="module")
def system(packages):
    with Container(f"totpd-units-{os.getpid()}", binds=[ROOT / "build"]) as container:
        container.installed = container.run("dpkg", "-i", str(packages[0]))
        container.after_install = {unit: container.show(unit, "ActiveState", "SubState", "UnitFileState")
                                   for unit in UNITS}
        yield container


def code(secret, steps_ahead=0):
    """The code oathtool computes for now plus steps_ahead periods (the host's clock is the container's)."""
    return subprocess.run(["oathtool", "--totp", "--base32", f"--now=@{int(time.time()) + 30 * steps_ahead}",
                           secret], capture_output=True, text=True, check=True).stdout.strip()


def write(container, path, text, mode="0644"):
    container.run("sh", "-c", f'umask 077; cat > "$1" && chmod {mode} "$1"', "-", path, input=text)


def login(container, user, typed):
    """pamtester as root through the check service: (succeeded, what it printed)."""
    done = container.run("pamtester", "totpd-check", user, "authenticate", input=typed + "\n", check=False)
    return done.returncode == 0, done.stdout + done.stderr


def journal(container):
    """The unit's journal entries, each with TEXT: its message without the metadata after it."""
    lines = container.run("journalctl", "--unit=totpd.service", "--output=json", "--no-pager").stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        entry["TEXT"] = re.sub(r"( [a-z_]+=\S*)+$", "", entry["MESSAGE"])
    return entries


def enroll(container, user):
    """The account enrolled by root, as an admin would: its secret."""
    begun = container.run("totpctl", "enroll", "--user", user, "--json")
    secret = json.loads(begun.stdout)["secret"]
    container.run("totpctl", "confirm", "--user", user, input=code(secret) + "\n")
    return secret


def test_install_enables_the_sockets_and_leaves_the_daemon_to_the_first_connection(system, packages):
    for unit in ("totpd.socket", "totpd-root.socket"):
        assert system.after_install[unit] == {"ActiveState": "active", "SubState": "listening",
                                              "UnitFileState": "enabled"}, unit
    assert system.after_install["totpd.service"]["ActiveState"] == "inactive"
    modes = system.run("stat", "-c", "%a %U %F", "/run/totpd/socket", "/run/totpd/socket.root").stdout.splitlines()
    assert modes == ["666 root socket", "600 root socket"]
    assert "no PAM stack uses it yet" in system.installed.stdout and "totpctl doctor" in system.installed.stdout
    assert system.run("grep", "-rl", "pam_totpd", "/etc/pam.d", check=False).stdout == ""

    # Idempotent: configuring again (a reinstall) changes nothing and leaves the daemon stopped.
    system.run("dpkg", "-i", str(packages[0]))
    assert system.show("totpd.socket", "SubState")["SubState"] == "listening"
    assert system.show("totpd.service", "ActiveState")["ActiveState"] == "inactive"


def test_the_first_connection_starts_the_daemon_which_reports_ready(system):
    assert system.show("totpd.service", "ActiveState")["ActiveState"] == "inactive"
    assert json.loads(system.run("totpctl", "list", "--json").stdout) == []
    shown = system.show("totpd.service", "Type", "ActiveState", "SubState", "MainPID", "NRestarts")
    assert (shown["Type"], shown["ActiveState"], shown["SubState"]) == ("notify", "active", "running")

    # Type=notify: systemd logs "Started" when READY=1 arrives, which totpd sends after it has
    # opened the store and taken both sockets; under Type=simple it would come at the fork.
    entries = journal(system)
    started = next(i for i, entry in enumerate(entries) if entry.get("MESSAGE_ID") == UNIT_STARTED)
    daemon = [entry for entry in entries[:started] if entry.get("_PID") == shown["MainPID"]]
    own = [entry["TEXT"] for entry in daemon if entry["_TRANSPORT"] == "stdout"]
    assert own.count("store ready") == 1 and own.count("listening on the socket systemd passed") == 2, own
    # The container's /var is a tmpfs (--volatile=overlay), which keeps no blocks for root. The
    # first connection's request may be answered before systemd logs Started: READY=1 goes out
    # first, and systemd reads it in its own time.
    assert set(own) - {"store ready", "listening on the socket systemd passed", "request handled"} == {NO_RESERVE}, own
    # And libdispatch's complaint that the sandbox (no CAP_SYS_NICE) refused a worker thread's
    # nice value; harmless, and in OPERATIONS.md.
    assert {entry["TEXT"] for entry in daemon if entry["_TRANSPORT"] != "stdout"} <= {RENICE_REFUSED}, daemon


def test_root_logs_in_through_pam_and_users_see_only_their_own_status(system):
    # Users made after the daemon started: it looks them up through NSS inside its sandbox.
    for user in ("alice", "bob"):
        system.run("useradd", "--create-home", user)
    secret = enroll(system, "alice")
    write(system, "/etc/pam.d/totpd-check", CHECK_SERVICE)

    assert login(system, "alice", "000000" if code(secret, 1) != "000000" else "111111")[0] is False
    succeeded, printed = login(system, "alice", code(secret, 1))
    assert succeeded, printed

    # SO_PEERCRED through the sandbox: the daemon sees each user's own uid.
    own = json.loads(system.run("totpctl", "status", "--json", user="alice").stdout)
    assert (own["user"], own["state"]) == ("alice", "active"), own
    assert json.loads(system.run("totpctl", "status", "--json", user="bob").stdout)["state"] == "none"
    other = system.run("totpctl", "status", "alice", user="bob", check=False)
    assert other.returncode != 0 and "may not" in other.stderr, other.stdout + other.stderr

    # Groups through NSS too: members of admin_group may list, others may not.
    system.run("groupadd", "totpadm")
    system.run("useradd", "--groups", "totpadm", "carol")
    system.run("sed", "-i", 's/^admin_group: ""$/admin_group: totpadm/', "/etc/totpd/totpd.conf")
    system.run("systemctl", "restart", "totpd.service")
    assert [row["user"] for row in json.loads(system.run("totpctl", "list", "--json", user="carol").stdout)] == ["alice"]
    assert system.run("totpctl", "list", user="bob", check=False).returncode != 0


def test_journald_receives_the_priorities(system):
    system.run("useradd", "dave")
    secret = enroll(system, "dave")
    for _ in range(6):  # five wrong codes lock the account; the sixth attempt is refused as locked
        assert not login(system, "dave", str((int(code(secret)) + 1) % 1000000).zfill(6))[0]
    system.run("totpctl", "status", "alice", user="bob", check=False)

    priorities = {}
    for entry in journal(system):
        priorities.setdefault(entry["TEXT"], set()).add(entry["PRIORITY"])
    assert priorities["request handled"] == {"6"}  # info
    assert priorities["request refused"] == {"5"}  # notice
    assert priorities["attempt refused: locked"] == {"4"}  # warning
    assert not [message for message in priorities if re.match(r"<\d>", message)]


def test_restart_and_upgrade_during_a_login_loop_lose_no_login(system, packages):
    names = [f"loop{number:03}" for number in range(LOOP_ACCOUNTS)]
    system.run("newusers", input="".join(f"{name}:*:::loop:/nonexistent:/usr/sbin/nologin\n" for name in names))
    keys = {name: os.urandom(20) for name in names}
    write(system, "/root/users.oath", "".join(f"HOTP/T30 {name} - {key.hex()}\n" for name, key in keys.items()),
          mode="0600")
    assert f"imported {LOOP_ACCOUNTS} accounts" in system.run("totpd", "--import-oath", "/root/users.oath").stdout

    # A start that takes two seconds, so that logins certainly arrive while no daemon runs.
    system.run("mkdir", "-p", "/run/systemd/system/totpd.service.d")
    write(system, "/run/systemd/system/totpd.service.d/slow-start.conf", "[Service]\nExecStartPre=/bin/sleep 2\n")
    system.run("systemctl", "daemon-reload")
    first_pid = system.show("totpd.service", "MainPID")["MainPID"]

    loop = LoginLoop(system, {name: base64.b32encode(key).decode() for name, key in keys.items()})
    loop.start()
    time.sleep(1)
    restarted = timed(lambda: system.run("systemctl", "restart", "totpd.service"))
    restarted_pid = system.show("totpd.service", "MainPID")["MainPID"]
    time.sleep(1)
    upgraded = timed(lambda: system.run("dpkg", "-i", str(packages[1])))
    time.sleep(1)
    attempts = loop.finish()

    failed = [attempt for attempt in attempts if not attempt["succeeded"]]
    assert not failed, failed[:5]
    assert len({first_pid, restarted_pid, system.show("totpd.service", "MainPID")["MainPID"]}) == 3
    version = system.run("dpkg-query", "-W", "-f=${Version}", "totpd").stdout
    assert version == "0.0.1+test2"
    for window in (restarted, upgraded):
        # Logins sent while the daemon was down waited in the socket for the next one.
        waited = [attempt for attempt in attempts if window[0] < attempt["sent"] < window[1] - 0.5
                  and attempt["seconds"] > 1]
        assert waited, (window, attempts)
    print(f"{len(attempts)} logins, all accepted; the slowest took {max(a['seconds'] for a in attempts):.2f} s")
    system.run("rm", "/run/systemd/system/totpd.service.d/slow-start.conf")
    system.run("systemctl", "daemon-reload")


def test_systemd_analyze_security_rates_the_service_at_most_2(system):
    report = system.run("systemd-analyze", "security", "--no-pager", "totpd.service").stdout
    exposure = float(re.search(r"Overall exposure level for totpd\.service: (\d+\.\d+)", report).group(1))
    print(f"systemd-analyze security totpd.service: {exposure}")
    assert exposure <= 2.0, report


def test_remove_keeps_the_data_and_purge_deletes_it(system):
    stored = system.run("sha256sum", "/var/lib/totpd/secret.key").stdout
    system.run("dpkg", "-r", "totpd")
    for unit in UNITS:
        assert system.show(unit, "ActiveState")["ActiveState"] == "inactive", unit
    assert system.run("test", "-e", "/run/totpd/socket", check=False).returncode != 0
    assert system.run("sha256sum", "/var/lib/totpd/secret.key").stdout == stored
    assert system.run("test", "-s", "/var/lib/totpd/totpd.sqlite", check=False).returncode == 0
    assert "admin_group: totpadm" in system.run("cat", "/etc/totpd/totpd.conf").stdout
    # The admin's stack still names the module: without it the login fails, closed.
    assert login(system, "alice", "123456")[0] is False

    system.run("dpkg", "-P", "totpd")
    for path in ("/var/lib/totpd", "/etc/totpd", "/etc/systemd/system/sockets.target.wants/totpd.socket",
                 "/etc/systemd/system/sockets.target.wants/totpd-root.socket"):
        assert system.run("test", "-e", path, check=False).returncode != 0, path


class LoginLoop(threading.Thread):
    """Root logins through pamtester, back to back from three threads, each account once (a code
    used once cannot be used again, and a later step's code would make an earlier one stale)."""

    def __init__(self, container, secrets):
        super().__init__()
        self.container, self.accounts = container, list(secrets.items())
        self.stop, self.attempts, self.lock = threading.Event(), [], threading.Lock()

    def run(self):
        workers = [threading.Thread(target=self.work) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def work(self):
        while not self.stop.is_set():
            with self.lock:
                if not self.accounts:
                    self.attempts.append({"succeeded": False, "printed": "the loop ran out of accounts"})
                    return
                user, secret = self.accounts.pop()
            sent = time.time()
            succeeded, printed = login(self.container, user, code(secret))
            with self.lock:
                self.attempts.append({"user": user, "sent": sent, "seconds": time.time() - sent,
                                      "succeeded": succeeded, "printed": printed})
            time.sleep(0.1)

    def finish(self):
        self.stop.set()
        self.join()
        return self.attempts


def timed(action):
    started = time.time()
    action()
    return started, time.time()
