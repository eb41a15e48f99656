"""Who may do what, with real accounts: root, a user on their own account, a user on someone
else's, a member of the configured admin group, and a non-member. Authorization refusals say
"may not"; other failures (a wrong code, nothing pending) are not refusals."""

import json
import subprocess

import pytest

from conftest import totp
from test_pam_login import AUTH_FAILED, AUTH_OK, enroll


@pytest.fixture
def admin_group(make_group):
    return make_group()


@pytest.fixture
def daemon_config(admin_group):
    return f"admin_group: {admin_group}\n"


# (operation, arguments with {target}, allowed for: own account, admin on another, non-member on another);
# the codes some operations read are typed on standard input.
MATRIX = [
    ("enroll", ["enroll", "--user", "{target}", "--json"], True, True, False),
    ("confirm", ["confirm", "--user", "{target}"], True, True, False),
    ("status", ["status", "{target}"], True, True, False),
    ("recovery-codes", ["recovery-codes", "--regenerate", "--user", "{target}"], True, False, False),
    ("resync", ["resync", "--user", "{target}"], True, False, False),
    ("list", ["list"], False, True, False),
    ("revoke", ["revoke", "{target}"], False, True, False),
    ("reset", ["reset", "{target}"], False, True, False),
    ("unlock", ["unlock", "{target}"], False, True, False),
    ("log", ["log", "--user", "{target}"], False, True, False),
]


def refused(result):
    return result.returncode != 0 and "may not" in result.stderr


def test_authorization_matrix(tools, make_user, admin_group):
    admin, plain, target = make_user(), make_user(), make_user()
    subprocess.run(["usermod", "-a", "-G", admin_group, admin], check=True)
    enroll(tools, target)
    codes = ("000000", "000001")
    for name, arguments, own_allowed, admin_allowed, plain_allowed in MATRIX:
        as_root = tools.totpctl(*[a.format(target=target) for a in arguments], codes=codes)
        assert not refused(as_root), (name, "root", as_root.stderr)
        # Admin-only operations have no "own account" form: a plain user runs them on themselves.
        own = tools.totpctl(*[a.format(target=plain) for a in arguments], user=plain, codes=codes)
        assert refused(own) != own_allowed, (name, "own", own.stderr)
        by_admin = tools.totpctl(*[a.format(target=target) for a in arguments], user=admin, codes=codes)
        assert refused(by_admin) != admin_allowed, (name, "admin", by_admin.stderr)
        by_plain = tools.totpctl(*[a.format(target=target) for a in arguments], user=plain, codes=codes)
        assert refused(by_plain) != plain_allowed, (name, "non-member", by_plain.stderr)

    # Every refusal is in the audit log with the caller's uid.
    log = json.loads(tools.totpctl("log", "--json").stdout)
    plain_uid = int(subprocess.run(["id", "-u", plain], capture_output=True, text=True, check=True).stdout)
    refusals = [e for e in log if e["caller_uid"] == plain_uid and e["result"] in ("other-user", "not-admin")]
    assert len(refusals) >= sum(1 for row in MATRIX if not row[4]) + sum(1 for row in MATRIX if not row[2])


def test_verification_of_another_account_is_root_only(tools, pam_service, make_user, admin_group):
    admin, target = make_user(), make_user()
    subprocess.run(["usermod", "-a", "-G", admin_group, admin], check=True)
    secret = enroll(tools, target)
    service = pam_service(f"socket={tools.daemon.socket}")
    # Not even an admin can use the daemon as an oracle for someone else's codes.
    by_admin = tools.pamtester(service, target, totp(secret, 1), user=admin)
    assert by_admin.returncode != 0 and AUTH_FAILED in by_admin.stderr
    assert json.loads(tools.totpctl("status", "--user", target, "--json").stdout)["failures"] == 0
    by_root = tools.pamtester(service, target, totp(secret, 1))
    assert by_root.returncode == 0 and AUTH_OK in by_root.stdout


def test_unprivileged_user_enrolls_and_verifies_itself(tools, pam_service, make_user):
    user = make_user()
    begun = tools.totpctl("enroll", "--json", user=user)
    assert begun.returncode == 0, begun.stderr
    secret = json.loads(begun.stdout)["secret"]
    confirmed = tools.totpctl("confirm", "--json", user=user, codes=[totp(secret)])
    assert confirmed.returncode == 0, confirmed.stderr
    assert len(json.loads(confirmed.stdout)["recovery_codes"]) == 10

    # Screen-locker style: PAM runs as the user and verifies the user's own code.
    service = pam_service(f"socket={tools.daemon.socket}")
    own = tools.pamtester(service, user, totp(secret, 1), user=user)
    assert own.returncode == 0 and AUTH_OK in own.stdout, own.stdout + own.stderr

    # Replacing the own active enrollment needs proof of possession.
    again = tools.totpctl("enroll", "--json", user=user)
    assert again.returncode != 0 and "already enrolled" in again.stderr
    with_code = tools.totpctl("enroll", "--json", "--replace", user=user, codes=[totp(secret, 2)])
    assert with_code.returncode == 0, with_code.stderr


def test_root_lists_and_revokes(tools, make_user):
    user = make_user()
    enroll(tools, user)
    listed = tools.totpctl("list", "--json")
    assert listed.returncode == 0, listed.stderr
    entry = next(e for e in json.loads(listed.stdout) if e["user"] == user)
    assert entry["state"] == "active" and entry["recovery_codes_left"] == 10
    table = tools.totpctl("list")
    assert table.stdout.splitlines()[0].split() == ["USER", "STATE", "LAST", "SUCCESS", "FAILURES"]
    assert tools.totpctl("revoke", user).returncode == 0
    again = tools.totpctl("revoke", user)
    assert again.returncode != 0 and "not enrolled" in again.stderr


def test_admins_cannot_take_over_root_or_another_admin(tools, make_user, admin_group, pam_service):
    admin, other_admin = make_user(), make_user()
    for member in (admin, other_admin):
        subprocess.run(["usermod", "-a", "-G", admin_group, member], check=True)
    # Not yet enrolled (a fresh install, after a reset) or half-way through: an admin can neither
    # start nor confirm an enrollment of root or of another admin, so cannot bind either to a phone.
    for target in ("root", other_admin):
        started = tools.totpctl("enroll", "--user", target, "--json", user=admin)
        assert refused(started) and "only root may change" in started.stderr, started.stderr
    own = json.loads(tools.totpctl("enroll", "--json", user=other_admin).stdout)
    hijack = tools.totpctl("confirm", "--user", other_admin, user=admin, codes=[totp(own["secret"])])
    assert refused(hijack), hijack.stderr
    assert tools.totpctl("confirm", user=other_admin, codes=[totp(own["secret"])]).returncode == 0
    other_secret = own["secret"]
    root_secret = enroll(tools, "root")
    for target in ("root", other_admin, admin):
        for operation in ("revoke", "reset", "unlock"):
            attempt = tools.totpctl(operation, target, user=admin)
            assert refused(attempt) and "only root may change" in attempt.stderr, (operation, target, attempt.stderr)
    # Active, their factor cannot be replaced by an admin either, and guessed proofs are not even
    # checked: they would run up root's failure count and lock root out.
    for target in ("root", other_admin):
        for _ in range(4):
            guessed = tools.totpctl("enroll", "--user", target, "--json", "--replace", user=admin, codes=["000000"])
            assert refused(guessed), guessed.stderr
        status = json.loads(tools.totpctl("status", target, "--json").stdout)
        assert status["state"] == "active" and status["failures"] == 0
    # Root's factor still logs root in; an ordinary user stays in the admins' reach.
    service = pam_service(f"socket={tools.daemon.socket}")
    assert tools.pamtester(service, "root", totp(root_secret, 1)).returncode == 0
    plain = make_user()
    enroll(tools, plain)
    assert tools.totpctl("revoke", plain, user=admin).returncode == 0
    log = json.loads(tools.totpctl("log", "--json").stdout)
    assert sum(1 for e in log if e["result"] == "needs-root") == 2 + 1 + 9 + 8


def test_revoke_keeps_the_user_out_until_an_admin_resets(tools, make_user):
    user = make_user()
    begun = tools.totpctl("enroll", "--json", user=user)
    secret = json.loads(begun.stdout)["secret"]
    assert tools.totpctl("confirm", user=user, codes=[totp(secret)]).returncode == 0
    assert tools.totpctl("revoke", user).returncode == 0
    # Lost phone, or a compromised session: that session cannot bind a new phone.
    again = tools.totpctl("enroll", "--json", user=user)
    assert again.returncode != 0 and "revoked" in again.stderr and "totpctl reset" in again.stderr
    assert json.loads(tools.totpctl("status", user, "--json").stdout)["state"] == "revoked"
    assert tools.totpctl("reset", user).returncode == 0
    assert json.loads(tools.totpctl("status", user, "--json").stdout)["state"] == "none"
    fresh = tools.totpctl("enroll", "--json", user=user)
    assert fresh.returncode == 0, fresh.stderr
    events = [(e["event"], e["result"]) for e in json.loads(tools.totpctl("log", "--user", user, "--json").stdout)]
    assert ("revoke", "revoked") in events and ("enroll-begin", "revoked-until-reset") in events
    assert ("reset", "reset") in events
    # An account that never enrolled can be revoked too, before its first setup.
    newcomer = make_user()
    assert tools.totpctl("revoke", newcomer).returncode == 0
    blocked = tools.totpctl("enroll", "--json", user=newcomer)
    assert blocked.returncode != 0 and "revoked" in blocked.stderr, blocked.stderr
