"""The daemon and a directory service (SSSD with Active Directory, LDAP), through the NSS
stand-in (nss_standin.py): a real glibc NSS module that answers case-insensitively with canonical
names, can be slow, and can fail. Review findings A.4 and A.5 of issue 10."""

import concurrent.futures
import json
import subprocess
import time

import pytest

from conftest import Daemon, Tools, let_ignore_pass, totp, wrong_code
from nss_standin import NSSStandin


@pytest.fixture
def directory(workdir):
    return NSSStandin(workdir)


@pytest.fixture
def daemon(workdir, directory):
    running = Daemon(workdir, "rate_limit:\n  attempts: 20\n", **directory.daemon_options())
    running.start()
    yield running
    running.stop()
    running.log.close()


def enroll(tools, name, canonical, confirm_as=None):
    begun = tools.totpctl("enroll", "--user", name, "--json")
    assert begun.returncode == 0, begun.stderr + tools.daemon.logged()
    enrollment = json.loads(begun.stdout)
    assert enrollment["user"] == canonical
    assert tools.totpctl("confirm", "--user", confirm_as or name, codes=[totp(enrollment["secret"])]).returncode == 0
    return enrollment["secret"]


def test_names_are_canonical_whatever_the_spelling(tools, directory, pam_service):
    directory.add_user("alice")
    secret = enroll(tools, "Alice", "alice", confirm_as="ALICE")
    listed = json.loads(tools.totpctl("list", "--json").stdout)
    assert [row["user"] for row in listed] == ["alice"]
    assert json.loads(tools.totpctl("status", "ALICE", "--json").stdout)["state"] == "active"
    # A code used through one spelling is used for all of them.
    service = pam_service(f"socket={tools.daemon.socket}")
    code = totp(secret, 1)
    assert tools.pamtester(service, "ALICE", code).returncode == 0
    assert tools.pamtester(service, "alice", code).returncode != 0


def test_a_failing_directory_never_skips_the_code(tools, directory, pam_service):
    directory.add_user("carol")
    secret = enroll(tools, "carol", "carol")
    service = pam_service(f"socket={tools.daemon.socket} unenrolled=allow")
    let_ignore_pass(service)
    # Control: an unenrolled directory user is let through (PAM_IGNORE then pam_permit)...
    directory.add_user("dave")
    assert tools.pamtester(service, "dave", "").returncode == 0
    # ...and the enrolled one needs the code.
    assert tools.pamtester(service, "carol", wrong_code(secret)).returncode != 0
    directory.fail()
    try:
        # Names that need the directory (another spelling, an account without an enrollment)
        # fail closed, whatever code comes with them...
        for name in ["Carol", "dave"]:
            down = tools.pamtester(service, name, totp(secret, 1))
            assert down.returncode != 0, f"{name} got in while the directory was down"
        assert "account lookup failed" in tools.daemon.logged()
        # ...while an enrollment's own key needs no lookup (issue 11: logins do not wait for
        # NSS), so carol still gives the code, and only the right one lets her in.
        assert tools.pamtester(service, "carol", wrong_code(secret)).returncode != 0
        assert tools.pamtester(service, "carol", totp(secret, 1)).returncode == 0
    finally:
        directory.restore()
    # A directory that no longer lists the account (or lists it under another spelling only)
    # must not make its enrollment look absent either.
    directory.remove_user("carol")
    for name in ["carol", "CAROL"]:
        absent = tools.pamtester(service, name, "")
        assert absent.returncode != 0, f"{name} skipped the code after leaving the directory"
    assert tools.pamtester(service, "carol", wrong_code(secret)).returncode != 0


def test_slow_lookups_for_other_names_do_not_delay_root(tools, directory, pam_service, make_user):
    directory.set_delay(10_000, prefix="slow")
    attacker, second, victim = make_user(), make_user(), make_user()
    secret = enroll(tools, victim, victim)
    service = pam_service(f"socket={tools.daemon.socket} timeout=3")

    def ask(user, name):
        started = time.monotonic()
        answer = tools.totpctl("status", name, user=user)
        answer.elapsed = time.monotonic() - started
        return answer

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        started = time.monotonic()
        flood = [pool.submit(ask, attacker, f"slow{index}") for index in range(24)]
        time.sleep(1)  # let the flood reach the daemon and its lookups block
        login = tools.pamtester(service, victim, totp(secret, 1))
        answers = [future.result() for future in flood]
        flood_time = time.monotonic() - started
    assert login.returncode == 0, login.stderr + tools.daemon.logged()
    assert login.elapsed < 1.0, f"root's login took {login.elapsed:.2f} s behind the flood"
    # Every flooded request failed closed, refused at once over the per-uid bound or after the
    # 2 s time limit; none waited for the 10 s directory.
    assert all(answer.returncode != 0 and "did not answer" in answer.stderr for answer in answers), answers[0].stderr
    assert flood_time < 6, flood_time
    assert "too many account lookups in progress for uid" in tools.daemon.logged()
    # Another user's slow lookup gets a thread of its own, and is cut off at the time limit.
    late = ask(second, "slowpoke")
    assert late.returncode != 0 and 1.5 < late.elapsed < 5, (late.elapsed, late.stderr)
