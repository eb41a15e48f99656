"""A real unprivileged user may enroll and verify itself, and nothing more."""

import json

from conftest import totp
from test_pam_login import AUTH_FAILED, AUTH_OK, enroll


def test_unprivileged_user_acts_only_on_itself(tools, pam_service, make_user):
    user, other = make_user(), make_user()
    other_secret = enroll(tools, other)

    begun = tools.totpctl("enroll", "--json", user=user)
    assert begun.returncode == 0, begun.stderr
    secret = json.loads(begun.stdout)["secret"]
    assert json.loads(begun.stdout)["user"] == user
    confirmed = tools.totpctl("confirm", "--code", totp(secret), user=user)
    assert confirmed.returncode == 0, confirmed.stderr
    status = tools.totpctl("status", "--json", user=user)
    assert json.loads(status.stdout)["state"] == "active"

    # Screen-locker style: PAM runs as the user and verifies the user's own code.
    service = pam_service(f"socket={tools.daemon.socket}")
    own = tools.pamtester(service, user, totp(secret, 1), user=user)
    assert own.returncode == 0 and AUTH_OK in own.stdout, own.stdout + own.stderr

    # The other user's right code, submitted by this user, is refused and not even counted.
    foreign = tools.pamtester(service, other, totp(other_secret, 1), user=user)
    assert foreign.returncode != 0 and AUTH_FAILED in foreign.stderr
    assert json.loads(tools.totpctl("status", "--user", other, "--json").stdout)["failures"] == 0

    for arguments in (["revoke", other], ["list"], ["status", "--user", other], ["enroll", "--user", other]):
        refused = tools.totpctl(*arguments, user=user)
        assert refused.returncode != 0, arguments
        assert "permission denied" in refused.stderr, refused.stderr
    assert json.loads(tools.totpctl("status", "--user", other, "--json").stdout)["state"] == "active"

    # The refusals are logged with the caller's uid.
    assert "request refused" in tools.daemon.logged()


def test_root_lists_and_revokes(tools, make_user):
    user = make_user()
    enroll(tools, user)
    listed = tools.totpctl("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"user": user, "state": "active"}.items() <= next(e for e in json.loads(listed.stdout) if e["user"] == user).items()
    table = tools.totpctl("list")
    assert table.stdout.splitlines()[0].split() == ["USER", "STATE", "LAST", "SUCCESS", "FAILURES"]
    assert tools.totpctl("revoke", user).returncode == 0
    again = tools.totpctl("revoke", user)
    assert again.returncode != 0 and "not enrolled" in again.stderr
