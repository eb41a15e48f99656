"""Backups, restores and key rotation through the real binaries: `totpctl backup` while the
daemon serves, `totpctl restore` after the store is wiped, `totpctl rotate-key` while root's
logins go on, kill -9 in the middle of a rotation, and who may ask for any of it. The clock-driven
parts (used steps across a restore) are in Tests/TOTPCoreTests/BackupTests.swift."""

import base64
import os
import pwd
import random
import secrets
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

from conftest import Daemon, Tools, as_user, totp
from nss_standin import FIRST_UID, NSSStandin
import wire

ACCOUNTS = int(os.environ.get("ROTATION_ACCOUNTS", "6000"))
KILL_CYCLES = int(os.environ.get("ROTATION_KILL_CYCLES", "6"))


def enroll(daemon, user):
    """Enrolls `user` as root over the wire: its base32 secret and recovery codes."""
    result, fields = wire.exchange(daemon.socket + ".root", "ENROLL_BEGIN", user=user)
    assert result == "OK", fields
    secret = wire.string(fields, "SECRET")
    result, fields = wire.exchange(daemon.socket + ".root", "ENROLL_CONFIRM", user=user, code=totp(secret))
    assert result == "OK", fields
    return secret, [value.decode() for value in fields[wire.TAG["RECOVERY_CODE"]]]


def verify(daemon, user, code):
    return wire.exchange(daemon.socket + ".root", "VERIFY", user=user, code=code)[0]


def test_backup_while_serving_then_restore_after_a_wipe(workdir, make_user):
    daemon = Daemon(workdir)
    daemon.start()
    tools = Tools(workdir, daemon)
    store = ["--config", str(daemon.config), "--state-dir", daemon.state]
    users = [make_user() for _ in range(3)]
    enrolled = {user: enroll(daemon, user) for user in users}
    # Root's wrong codes for another account go on while the snapshot is taken (and lock it).
    guesser = make_user()
    enroll(daemon, guesser)
    backup = workdir / "backup.sqlite"

    answers, stop = [], threading.Event()

    def logins():
        while not stop.is_set():
            answers.append(verify(daemon, guesser, "000000"))
    thread = threading.Thread(target=logins)
    thread.start()
    made = tools.totpctl("backup", *store, str(backup))
    stop.set()
    thread.join()
    assert made.returncode == 0, made.stderr
    assert "Backed up 4 enrolled accounts" in made.stdout and "The key is not in the backup" in made.stdout
    assert answers and set(answers) <= {"REJECTED", "LOCKED"}, set(answers)
    info = os.stat(backup)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
    assert not Path(f"{backup}-wal").exists()
    key = (Path(daemon.state) / "secret.key").read_bytes()
    content = backup.read_bytes()
    assert key not in content
    for secret, codes in enrolled.values():
        assert base64.b32decode(secret) not in content and secret.encode() not in content
        assert all(code.encode() not in content for code in codes)
    again = tools.totpctl("backup", *store, str(backup))
    assert again.returncode != 0 and "cannot create" in again.stderr

    # The daemon holds the store: restore refuses and changes nothing.
    refused = tools.totpctl("restore", *store, str(backup))
    assert refused.returncode != 0 and "another totpd" in refused.stderr, refused.stderr

    daemon.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(daemon.state, "totpd.sqlite" + suffix).unlink(missing_ok=True)
    restored = tools.totpctl("restore", *store, str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "Restored 4 enrolled accounts" in restored.stdout and "Codes are accepted again from" in restored.stdout
    assert stat.S_IMODE(os.stat(Path(daemon.state, "totpd.sqlite")).st_mode) == 0o600

    daemon.start()
    try:
        for user, (secret, codes) in enrolled.items():
            # The restore counts the current steps as used: a code seen before it cannot be replayed.
            assert verify(daemon, user, totp(secret)) == "REJECTED"
            # The recovery codes came back with their key.
            assert verify(daemon, user, codes[1]) == "OK"
        status = tools.totpctl("status", users[2])
        assert status.returncode == 0 and "active" in status.stdout, status.stdout + status.stderr
    finally:
        daemon.stop()


def many_accounts(workdir):
    """ACCOUNTS accounts in the NSS stand-in, imported with secrets: (directory, daemon, secrets)."""
    directory = NSSStandin(workdir)
    keys = {f"rot{index:05d}": secrets.token_bytes(20) for index in range(ACCOUNTS)}
    directory.add_users(list(keys), FIRST_UID + 1000)
    users_file = workdir / "users.oath"
    users_file.write_text("".join(f"HOTP/T30 {name} - {key.hex()}\n" for name, key in keys.items()))
    users_file.chmod(0o600)
    daemon = Daemon(workdir, **directory.daemon_options())
    imported = directory.run(daemon.command() + ["--import-oath", str(users_file)], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    return directory, daemon, {name: base64.b32encode(key).decode() for name, key in keys.items()}


def rotate(daemon):
    return wire.exchange(daemon.socket + ".root", "ROTATE_KEY", timeout=120)


def test_rotation_while_root_logs_in(workdir):
    _, daemon, keys = many_accounts(workdir)
    key_file = Path(daemon.state) / "secret.key"
    daemon.start()
    try:
        old_key = key_file.read_bytes()
        names = iter(random.sample(sorted(keys), len(keys)))
        answers, latencies, stop = [], [], threading.Event()

        def logins():
            while not stop.is_set():
                name = next(names)
                code = totp(keys[name])
                started = time.perf_counter()
                answers.append(verify(daemon, name, code))
                latencies.append(time.perf_counter() - started)
        thread = threading.Thread(target=logins)
        thread.start()
        started = time.perf_counter()
        result, fields = rotate(daemon)
        took = time.perf_counter() - started
        stop.set()
        thread.join()
        assert result == "OK", fields
        assert wire.u64(fields, "COUNT") == ACCOUNTS + 1
        assert key_file.read_bytes() != old_key and not Path(f"{key_file}.next").exists()
        assert answers and set(answers) == {"OK"}, set(answers)
        print(f"\nrotation of {ACCOUNTS} secrets: {took:.2f} s; {len(answers)} logins meanwhile, "
              f"slowest {max(latencies) * 1000:.1f} ms")
        # Every secret opens with the new key: a sample of the accounts the loop did not use
        # logs in (a used one could be asked its step's code again, which is a replay, REJECTED).
        for name in random.sample(list(names), 30):
            assert verify(daemon, name, totp(keys[name])) == "OK", name
    finally:
        daemon.stop()
    assert "store key rotated" in daemon.logged()


def test_kill_9_during_a_rotation_leaves_every_secret_readable(workdir):
    _, daemon, keys = many_accounts(workdir)
    key_file = Path(daemon.state) / "secret.key"
    unused = iter(random.sample(sorted(keys), len(keys)))
    interrupted = 0
    for cycle in range(KILL_CYCLES):
        daemon.start()
        before = key_file.read_bytes()
        thread = threading.Thread(target=lambda: _ignore_errors(rotate, daemon))
        thread.start()
        time.sleep(random.uniform(0.0, 0.6))
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
        thread.join()
        midway = Path(f"{key_file}.next").exists()
        interrupted += midway
        daemon.start()
        try:
            assert not Path(f"{key_file}.next").exists()
            if midway:
                assert key_file.read_bytes() != before
            for name in [next(unused) for _ in range(20)]:
                assert verify(daemon, name, totp(keys[name])) == "OK", (cycle, name)
        finally:
            daemon.stop()
    print(f"{interrupted} of {KILL_CYCLES} kills landed in the middle of a rotation")
    assert interrupted >= 1, "no kill landed in the middle of a rotation"
    assert daemon.logged().count("finishing a key rotation that was interrupted") == interrupted


def _ignore_errors(function, *arguments):
    try:
        function(*arguments)
    except OSError:
        pass


def test_only_root_rotates_and_only_admins_read_metrics(workdir, make_user):
    daemon = Daemon(workdir)
    daemon.start()
    try:
        tools = Tools(workdir, daemon)
        user = make_user()
        key = (Path(daemon.state) / "secret.key").read_bytes()
        for operation in ("ROTATE_KEY", "METRICS"):
            answer = subprocess.run(
                as_user(user, ["python3", "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import wire; "
                                                f"print(wire.exchange({daemon.socket!r}, {operation!r})[0])"]),
                capture_output=True, text=True, timeout=30)
            assert answer.stdout.strip() == "DENIED", answer.stdout + answer.stderr
        assert (Path(daemon.state) / "secret.key").read_bytes() == key
        for command in (["rotate-key"], ["metrics"]):
            refused = tools.totpctl(*command, user=user)
            assert refused.returncode != 0 and "permission denied" in refused.stderr, refused.stderr

        exposition = tools.totpctl("metrics")
        assert exposition.returncode == 0, exposition.stderr
        assert 'totpd_requests_total{operation="rotate-key",result="denied"} 2' in exposition.stdout
        assert "# TYPE totpd_verify_duration_seconds histogram" in exposition.stdout
        textfile = workdir / "totpd.prom"
        written = tools.totpctl("metrics", "--output", str(textfile))
        assert written.returncode == 0 and "totpd_build_info" in textfile.read_text()
        rotated = tools.totpctl("rotate-key")
        assert rotated.returncode == 0 and "Rotated the store key" in rotated.stdout, rotated.stderr
    finally:
        daemon.stop()


def test_metrics_output_follows_no_directory_a_user_can_redirect(workdir, make_user):
    """A textfile directory may be a service account's, but nothing leading to it: its owner
    could link it to any directory of root's (review of round 19)."""
    daemon = Daemon(workdir)
    daemon.start()
    try:
        tools = Tools(workdir, daemon)
        user = make_user()
        owned = workdir / "owned"
        owned.mkdir()
        os.chown(owned, pwd.getpwnam(user).pw_uid, -1)
        victim = workdir / "victim"
        victim.mkdir(mode=0o700)
        (victim / "totpd.prom").write_text("root's own file\n")
        (owned / "collector").symlink_to(victim)
        refused = tools.totpctl("metrics", "--output", str(owned / "collector/totpd.prom"))
        assert refused.returncode != 0 and "must be root's" in refused.stderr, refused.stderr
        assert (victim / "totpd.prom").read_text() == "root's own file\n" and os.listdir(victim) == ["totpd.prom"]

        # The collector's directory itself may be the user's: the file is made in it, never followed.
        written = tools.totpctl("metrics", "--output", str(owned / "totpd.prom"))
        assert written.returncode == 0, written.stderr
        info = os.lstat(owned / "totpd.prom")
        assert stat.S_ISREG(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o644
    finally:
        daemon.stop()
