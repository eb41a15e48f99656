"""The daemon as a sysadmin runs it: configuration checks, throttling seen through PAM, recovery
codes, systemd socket activation and readiness, connection limits, shutdown under load."""

import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Daemon, Tools, _binary, let_ignore_pass, totp, wrong_code
from test_pam_login import AUTH_FAILED, AUTH_OK, UNAVAILABLE, enroll

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, expected", [
    ("lockout:\n  hard_limit: 200\n", ":2: lockout.hard_limit: must be a whole number from 2 to 50"),
    ("socket: /run/x\nrate_limits: {}\n", ":2: rate_limits: unknown key"),
    ("enrollment:\n  digits: six\n", ":2: enrollment.digits: must be a whole number"),
    ("admin_group: no-such-group-here\n", ":1: admin_group: group \"no-such-group-here\" does not exist"),
])
def test_bad_configuration_stops_the_daemon_naming_key_and_line(workdir, text, expected):
    config = workdir / "bad.conf"
    config.write_text(text)
    state = workdir / "state"
    for extra in (["--check-config"], []):
        result = subprocess.run([_binary("TOTPD_BIN"), "--config", str(config), "--state-dir", str(state),
                                 "--socket", str(workdir / "socket")] + extra,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert f"{config}{expected}" in result.stderr, result.stderr
    # Nothing was touched: no state directory, no socket.
    assert not state.exists() and not (workdir / "socket").exists()


def test_shipped_configuration_checks_clean():
    result = subprocess.run([_binary("TOTPD_BIN"), "--check-config", "--config", str(REPOSITORY / "config/totpd.conf")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "configuration OK" in result.stdout, result.stderr


def test_flags_override_the_file(workdir):
    daemon = Daemon(workdir, "socket: /nonexistent/run/socket\nstate_directory: /nonexistent/state\n"
                             "issuer: from-the-file\n")
    daemon.start()  # listens on --socket, stores in --state-dir: the file's paths do not exist
    try:
        tools = Tools(workdir, daemon)
        assert (Path(daemon.state) / "totpd.sqlite").exists()
        # --issuer system-test overrides the file's issuer too.
        uri = json.loads(tools.totpctl("enroll", "--user", "root", "--json").stdout)["uri"]
        assert uri.startswith("otpauth://totp/system-test:root?")
    finally:
        daemon.stop()


def test_lockout_is_shown_to_the_user_and_lifted_by_unlock(tools, pam_service, make_user):
    user = make_user()
    secret = enroll(tools, user)
    service = pam_service(f"socket={tools.daemon.socket}")
    for _ in range(3):
        assert tools.pamtester(service, user, wrong_code(secret)).returncode != 0
    # The fourth attempt within 30 s is refused unchecked, with a time to retry.
    locked = tools.pamtester(service, user, totp(secret, 1))
    assert locked.returncode != 0, locked.stdout
    assert "Too many attempts. Try again in" in locked.stdout + locked.stderr, locked.stdout + locked.stderr
    assert "Have exhausted maximum number of retries" in locked.stderr
    assert tools.totpctl("unlock", user).returncode == 0
    unlocked = tools.pamtester(service, user, totp(secret, 1))
    assert unlocked.returncode == 0 and AUTH_OK in unlocked.stdout
    events = [(e["event"], e["result"]) for e in json.loads(tools.totpctl("log", "--user", user, "--json").stdout)]
    assert ("verify", "rate-limited") in events and ("unlock", "unlocked") in events


def test_recovery_code_works_once_at_the_code_prompt(tools, pam_service, make_user):
    user = make_user()
    begun = json.loads(tools.totpctl("enroll", "--user", user, "--json").stdout)
    confirmed = tools.totpctl("confirm", "--user", user, "--json", codes=[totp(begun["secret"])])
    codes = json.loads(confirmed.stdout)["recovery_codes"]
    service = pam_service(f"socket={tools.daemon.socket}")
    first = tools.pamtester(service, user, codes[0].upper())
    assert first.returncode == 0 and AUTH_OK in first.stdout, first.stdout + first.stderr
    reused = tools.pamtester(service, user, codes[0])
    assert reused.returncode != 0 and AUTH_FAILED in reused.stderr
    status = json.loads(tools.totpctl("status", "--user", user, "--json").stdout)
    assert status["recovery_codes_left"] == 9
    log = tools.daemon.logged()
    assert codes[0] not in log and codes[0].upper() not in log


def test_exempt_users_get_pam_ignore(workdir, make_user, make_group, pam_service):
    exempt_group = make_group()
    exempt, required = make_user(), make_user()
    subprocess.run(["usermod", "-a", "-G", exempt_group, exempt], check=True)
    daemon = Daemon(workdir, f"second_factor:\n  exempt: [\"%{exempt_group}\"]\n")
    daemon.start()
    try:
        service = pam_service(f"socket={daemon.socket}")
        let_ignore_pass(service)
        # No input at all: a prompt would fail the conversation.
        result = subprocess.run(["pamtester", service, exempt, "authenticate"], input="", capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
        control = subprocess.run(["pamtester", service, required, "authenticate"], input="", capture_output=True,
                                 text=True, timeout=30)
        assert control.returncode != 0
    finally:
        daemon.stop()


def test_shipped_example_service_lets_exempt_users_in_and_asks_the_others(workdir, make_user, make_group):
    exempt_group = make_group()
    exempt, required = make_user(), make_user()
    subprocess.run(["usermod", "-a", "-G", exempt_group, exempt], check=True)
    daemon = Daemon(workdir, f"second_factor:\n  exempt: [\"%{exempt_group}\"]\n")
    daemon.start()
    service = Path("/etc/pam.d", "totpd-example-" + secrets.token_hex(4))
    shipped = (REPOSITORY / "config/pam.d/totpd-example").read_text()
    assert shipped.count(" pam_totpd.so socket=/run/totpd/socket ") == 1
    service.write_text(shipped.replace(" pam_totpd.so socket=/run/totpd/socket ",
                                       f" {workdir / 'pam_totpd.so'} socket={daemon.socket} "))
    try:
        tools = Tools(workdir, daemon)
        secret = enroll(tools, required)
        free = subprocess.run(["pamtester", service.name, exempt, "authenticate"], input="", capture_output=True,
                              text=True, timeout=30)
        assert free.returncode == 0, free.stdout + free.stderr
        assert tools.pamtester(service.name, required, wrong_code(secret)).returncode != 0
        assert tools.pamtester(service.name, required, totp(secret, 1)).returncode == 0
        daemon.stop()  # a failure of the module never reaches pam_permit.so
        assert tools.pamtester(service.name, exempt, "").returncode != 0
    finally:
        service.unlink(missing_ok=True)
        daemon.stop()


def test_grace_period_skips_the_code_for_the_same_remote_host_only(workdir, make_user, pam_service):
    user = make_user()
    service = pam_service("")  # arguments filled in below, once the daemon's socket is known
    daemon = Daemon(workdir, f"grace_period:\n  {service}: 300\n")
    daemon.start()
    try:
        path = Path("/etc/pam.d", service)
        path.write_text(path.read_text().rstrip("\n") + f"socket={daemon.socket}\n")
        tools = Tools(workdir, daemon)
        secret = enroll(tools, user)

        def login(rhost, code):
            return subprocess.run(["pamtester", "-I", f"rhost={rhost}", service, user, "authenticate"],
                                  input=code + "\n" if code else "", capture_output=True, text=True, timeout=30)

        assert login("192.0.2.10", totp(secret, 1)).returncode == 0
        # Same host within 300 s: no prompt (no input is given at all).
        assert login("192.0.2.10", None).returncode == 0
        # Another host still has to give a code.
        assert login("192.0.2.11", None).returncode != 0
        # A code checked for a non-root caller (a screen locker, or any program of the user's)
        # names its service and host itself: that grants no grace period.
        own = subprocess.run(["runuser", "-u", user, "--", "pamtester", "-I", "rhost=192.0.2.12", service, user,
                              "authenticate"], input=totp(secret, 2) + "\n", capture_output=True, text=True, timeout=30)
        assert own.returncode == 0, own.stdout + own.stderr
        assert login("192.0.2.12", None).returncode != 0
        events = [(e["event"], e["result"]) for e in json.loads(tools.totpctl("log", "--json").stdout)]
        assert events.count(("verify", "accepted")) == 2
    finally:
        daemon.stop()


@pytest.mark.parametrize("with_root_socket", [True, False])
def test_socket_activation_and_readiness(workdir, make_user, pam_service, with_root_socket):
    """With totpd-root.socket (the shipped units) root's logins come through root's socket;
    without it (totpd.socket alone) the module falls back to the shared one."""
    notify_path = str(workdir / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(20)
    daemon = Daemon(workdir)
    sockets = ["-l", daemon.socket]
    if with_root_socket:
        sockets += ["-l", daemon.socket + ".root", "--fdname=public:root"]
    command = ["systemd-socket-activate", "-E", "NOTIFY_SOCKET"] + sockets + daemon.command()
    os.environ["NOTIFY_SOCKET"] = notify_path
    try:
        daemon.start(command)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        tools = Tools(workdir, daemon)
        user = make_user()
        secret = enroll(tools, user)  # the first connection starts the daemon
        assert notify.recv(64) == b"READY=1"
        assert "listening on the socket systemd passed for=everyone" in daemon.logged()
        assert ("listening on the socket systemd passed for=root" in daemon.logged()) == with_root_socket
        service = pam_service(f"socket={daemon.socket}")
        assert tools.pamtester(service, user, totp(secret, 1)).returncode == 0
    finally:
        daemon.stop()
        notify.close()


def test_idle_connections_from_a_user_do_not_delay_root(tools, pam_service, make_user, workdir):
    hog, user = make_user(), make_user()
    secret = enroll(tools, user)
    holder = workdir / "hold.py"
    holder.write_text(
        "import socket, sys, time\n"
        "held = []\n"
        "for _ in range(500):\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    s.connect(sys.argv[1])\n"
        "    held.append(s)\n"
        "print('holding', flush=True)\n"
        "time.sleep(30)\n")
    hold = subprocess.Popen(["runuser", "-u", hog, "--", "/usr/bin/python3", str(holder), tools.daemon.socket],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "holding"
        service = pam_service(f"socket={tools.daemon.socket} timeout=3")
        result = tools.pamtester(service, user, totp(secret, 1))
        assert result.returncode == 0 and AUTH_OK in result.stdout, result.stdout + result.stderr
        assert result.elapsed < 1.0, result.elapsed
        assert "connection refused: too many" in tools.daemon.logged()
    finally:
        hold.kill()


def test_sigterm_under_load_exits_cleanly_and_loses_nothing(tools, make_user):
    users = [make_user() for _ in range(3)]
    acknowledged = {user: 0 for user in users}
    stop = threading.Event()

    def hammer(user):
        # Each answered enroll-begin is a committed write (pending row and audit row).
        while not stop.is_set():
            if tools.totpctl("enroll", "--user", user, "--json").returncode == 0:
                acknowledged[user] += 1

    threads = [threading.Thread(target=hammer, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    time.sleep(2)
    started = time.monotonic()
    tools.daemon.stop()  # SIGTERM; asserts exit status 0
    assert time.monotonic() - started < 10
    stop.set()
    for thread in threads:
        thread.join()
    assert all(count > 0 for count in acknowledged.values()), acknowledged
    database = Path(tools.daemon.state) / "totpd.sqlite"
    integrity = subprocess.run(["sqlite3", str(database), "PRAGMA integrity_check"], capture_output=True, text=True)
    assert integrity.stdout.strip() == "ok", integrity.stdout + integrity.stderr
    # Restarted on the same store: every acknowledged write is there.
    tools.daemon.start()
    log = json.loads(tools.totpctl("log", "--json").stdout)
    for user, count in acknowledged.items():
        stored = sum(1 for e in log if e["user"] == user and e["event"] == "enroll-begin" and e["result"] == "pending")
        assert stored >= count, (user, stored, count)
        assert json.loads(tools.totpctl("status", "--user", user, "--json").stdout)["state"] == "pending"


def test_systemd_units_verify_and_score_well(workdir):
    units = workdir / "units"
    units.mkdir()
    for unit in ("totpd.socket", "totpd-root.socket", "totpd.service"):
        text = (REPOSITORY / "systemd" / unit).read_text().replace("/usr/local/sbin/totpd", _binary("TOTPD_BIN"))
        (units / unit).write_text(text)
    verify = subprocess.run(["systemd-analyze", "verify"] + [str(units / unit) for unit in
                                                             ("totpd.socket", "totpd-root.socket", "totpd.service")],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(units / "totpd.service")],
                              capture_output=True, text=True)
    score = float(security.stdout.split("Overall exposure level for totpd.service:")[1].split()[0])
    assert score <= 2.0, security.stdout
