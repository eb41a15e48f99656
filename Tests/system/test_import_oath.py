"""totpd --import-oath: a pam_oath users file moved into the store in one go, with the real
daemon binary, real accounts from useradd and real libpam."""

import base64
import os
import pwd
import secrets
import subprocess

from conftest import Daemon, totp, wrong_code


def import_oath(daemon, path):
    return subprocess.run(daemon.command() + ["--import-oath", str(path)], capture_output=True, text=True, timeout=60)


def users_file(workdir, lines, mode=0o600):
    path = workdir / "users.oath"
    path.write_text("".join(line + "\n" for line in lines))
    path.chmod(mode)
    return path


def test_imported_accounts_log_in_with_their_old_secrets(workdir, make_user, pam_service):
    names = [make_user(), make_user()]
    keys = {name: secrets.token_bytes(20) for name in names}
    daemon = Daemon(workdir)
    path = users_file(workdir, ["# moved from pam_oath"] + [f"HOTP/T30 {name} - {keys[name].hex()}" for name in names])
    imported = import_oath(daemon, path)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 accounts" in imported.stdout
    daemon.start()
    try:
        service = pam_service(f"socket={daemon.socket}")
        for name in names:
            secret = base64.b32encode(keys[name]).decode()
            assert subprocess.run(["pamtester", service, name, "authenticate"], input=wrong_code(secret) + "\n",
                                  capture_output=True, text=True).returncode != 0
            assert subprocess.run(["pamtester", service, name, "authenticate"], input=totp(secret) + "\n",
                                  capture_output=True, text=True).returncode == 0
    finally:
        daemon.stop()


def test_a_bad_file_imports_nothing(workdir, make_user):
    known = make_user()
    daemon = Daemon(workdir)
    key = secrets.token_hex(20)
    cases = [
        ([f"HOTP/T30 {known} - {key}", f"HOTP/T30 nosuchuser{secrets.token_hex(3)} - {key}"], 0o600, "no account named"),
        ([f"HOTP/T30 {known} - {key}", f"HOTP {known}x - {key}"], 0o600, "line 2: type HOTP is not time-based"),
        ([f"HOTP/T30 {known} 1234 {key}"], 0o600, "has a PIN"),
        # Whoever could write the file could have planted a secret for root.
        ([f"HOTP/T30 {known} - {key}"], 0o644, "accessible by group or others"),
    ]
    for lines, mode, problem in cases:
        refused = import_oath(daemon, users_file(workdir, lines, mode))
        assert refused.returncode != 0 and problem in refused.stderr, refused.stderr
        assert key not in refused.stderr + refused.stdout
    # The file is checked through the descriptor it is read from: no symbolic link (which a user
    # who can write the directory could swap in between a check and a read), no other owner.
    real = users_file(workdir, [f"HOTP/T30 {known} - {key}"])
    real.rename(workdir / "real.oath")
    (workdir / "users.oath").symlink_to(workdir / "real.oath")
    refused = import_oath(daemon, workdir / "users.oath")
    assert refused.returncode != 0 and "symbolic links are refused" in refused.stderr, refused.stderr
    (workdir / "users.oath").unlink()
    theirs = users_file(workdir, [f"HOTP/T30 root - {key}"])
    os.chown(theirs, pwd.getpwnam(known).pw_uid, -1)
    refused = import_oath(daemon, theirs)
    assert refused.returncode != 0 and "must be owned by uid 0" in refused.stderr, refused.stderr
    theirs.unlink()
    # Nothing of the refused files reached the store: the account imports cleanly now.
    assert import_oath(daemon, users_file(workdir, [f"HOTP/T30 {known} - {key}"])).returncode == 0
    again = import_oath(daemon, users_file(workdir, [f"HOTP/T30 {known} - {key}"]))
    assert again.returncode != 0 and "already has an enrollment" in again.stderr
    assert os.stat(workdir / "state" / "totpd.sqlite").st_mode & 0o077 == 0
