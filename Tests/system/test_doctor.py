"""The real `totpctl doctor` on trees built here: a clean one exits 0, each broken one exits 1 with
the finding that names the file, the line and the fix; with --socket it asks the real daemon."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import _binary
from test_pam_login import enroll

REPOSITORY = Path(__file__).resolve().parents[2]
FIELDS = {"id", "severity", "subject", "location", "message", "fix"}
SKIPPED_UNDER_ROOT = {"daemon.skipped", "clock.skipped", "enrollment.skipped"}


def write(tree, path, text, mode=0o644):
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


@pytest.fixture
def tree(tmp_path):
    """A host as installed: the shipped PAM and sshd files, Debian's common-auth, private state."""
    tmp_path.chmod(0o755)
    write(tmp_path, "/etc/totpd/totpd.conf", (REPOSITORY / "config/totpd.conf").read_text())
    state = tmp_path / "var/lib/totpd"
    state.mkdir(parents=True)
    state.chmod(0o700)
    write(tmp_path, "/var/lib/totpd/secret.key", "k" * 32, mode=0o600)
    write(tmp_path, "/etc/pam.d/common-auth",
          "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n")
    for name in ("common-account", "common-session", "common-session-noninteractive"):
        write(tmp_path, "/etc/pam.d/" + name, "session required pam_permit.so\n")
    for name in ("sudo", "sshd"):
        write(tmp_path, "/etc/pam.d/" + name, (REPOSITORY / "config/pam.d" / name).read_text())
    write(tmp_path, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n")
    write(tmp_path, "/etc/ssh/sshd_config.d/totpd.conf", (REPOSITORY / "config/sshd_config.d/totpd.conf").read_text())
    write(tmp_path, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    write(tmp_path, "/etc/group", "root:x:0:\n")
    return tmp_path


def doctor(tree, *arguments):
    environment = {k: v for k, v in os.environ.items() if k != "TOTPD_SOCKET"}
    result = subprocess.run([_binary("TOTPCTL_BIN"), "doctor", "--root", str(tree), "--json", *arguments],
                            capture_output=True, text=True, env=environment, timeout=60)
    report = json.loads(result.stdout)
    assert set(report) == {"root", "findings", "errors", "warnings", "notes"}, report
    for finding in report["findings"]:
        assert set(finding) == FIELDS, finding
    return result.returncode, report


def problems(report):
    return [finding for finding in report["findings"] if finding["severity"] != "note"]


def test_the_shipped_files_check_clean(tree):
    status, report = doctor(tree)
    assert status == 0, report
    assert problems(report) == []
    assert {finding["id"] for finding in report["findings"]} == SKIPPED_UNDER_ROOT
    assert report["root"] == str(tree) and report["errors"] == report["warnings"] == 0


def sufficient_password(tree):
    write(tree, "/etc/pam.d/common-auth", "auth sufficient pam_unix.so\nauth requisite pam_deny.so\n")
    return "pam.sufficient-before-code", "/etc/pam.d/common-auth:1", "requisite"


def optional_password_before_enrollment(tree):
    write(tree, "/etc/pam.d/sudo", "auth optional pam_unix.so\nauth required pam_totpd.so unenrolled=enroll\n")
    return "pam.enroll-without-first-factor", "/etc/pam.d/sudo:2", "requisite"


def unknown_argument(tree):
    write(tree, "/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so socket=/run/totpd/socket nullok\n")
    return "pam.module-argument", "/etc/pam.d/sudo:2", "socket= timeout="


def sshd_without_pam(tree):
    write(tree, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n")
    write(tree, "/etc/ssh/sshd_config.d/00-local.conf", "UsePAM no\n")
    return "sshd.usepam", "/etc/ssh/sshd_config.d/00-local.conf:1", "UsePAM yes"


def writable_configuration(tree):
    (tree / "etc/totpd/totpd.conf").chmod(0o666)
    return "config.unsafe", "/etc/totpd/totpd.conf", "chmod go-w " + str(tree / "etc/totpd/totpd.conf")


def readable_key(tree):
    (tree / "var/lib/totpd/secret.key").chmod(0o644)
    return "files.permissions", "/var/lib/totpd/secret.key", "chmod 600 " + str(tree / "var/lib/totpd/secret.key")


@pytest.mark.parametrize("breaking", [sufficient_password, optional_password_before_enrollment, unknown_argument,
                                      sshd_without_pam, writable_configuration, readable_key])
def test_each_broken_tree_exits_one_naming_place_and_fix(tree, breaking):
    expected_id, location, fix = breaking(tree)
    status, report = doctor(tree)
    assert status == 1, report
    found = problems(report)
    assert [finding["id"] for finding in found] == [expected_id], found
    assert found[0]["location"] == str(tree) + location
    assert fix in found[0]["fix"], found[0]


def test_a_required_account_without_enrollment_is_named_by_the_real_daemon(tree, tools, make_user):
    enrolled, missing = make_user(), make_user()
    enroll(tools, enrolled)
    write(tree, "/etc/passwd", f"{enrolled}:x:4100:4100::/:/bin/bash\n{missing}:x:4101:4101::/:/bin/bash\n"
                               "daemon:x:1:1::/:/usr/sbin/nologin\n")
    status, report = doctor(tree, "--socket", tools.daemon.socket)
    assert status == 1, report
    found = problems(report)
    assert [(finding["id"], finding["subject"]) for finding in found] == [("enrollment.missing", f"account {missing}")], found
    assert f"totpctl enroll {missing}" in found[0]["fix"]


SWAPPER = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
while True:
    libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), RENAME_EXCHANGE)
"""


def test_the_json_report_carries_no_control_or_bidirectional_character(tree):
    """JSON escapes only what is below U+0020: a quoted line's C1 control, DEL or right-to-left
    override would reach the terminal of whoever reads the report with cat or jq."""
    write(tree, "/etc/pam.d/sudo", "auth required pam_totpd.so\nauth reqXuired pam_unix.so \u202e\u009b\u007f\n")
    status, report = doctor(tree)
    assert status == 1
    messages = [finding["message"] for finding in problems(report)]
    assert any("\\u{202E}\\u{9B}\\u{7F}" in message for message in messages), messages
    assert not any(character in message for message in messages for character in "\u202e\u009b\u007f"), messages


def test_a_tree_given_by_a_link_is_refused_and_nothing_of_it_read(tmp_path):
    """A link given as --root, or one in the path to it, could be turned by its owner to a tree
    only root may read: doctor refuses it as a usage error and quotes nothing. (Before, doctor
    followed it and reported the root-only tree's lines.)"""
    token = "ROOT-ONLY-" + os.urandom(6).hex()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    write(private / "image", "/etc/pam.d/sudo", f"auth required pam_totpd.so\nauth bogus pam_unix.so {token}\n")
    (tmp_path / "link").symlink_to(private / "image")
    (tmp_path / "parent").symlink_to(private)
    for root in (tmp_path / "link", tmp_path / "parent" / "image"):
        result = subprocess.run([_binary("TOTPCTL_BIN"), "doctor", "--root", str(root), "--json"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 64, (root, result)
        assert f"--root {root} leads through a symbolic link" in result.stderr, result.stderr
        assert token not in result.stdout + result.stderr, result


def test_a_tree_whose_links_change_while_doctor_reads_shows_nothing_outside_it(tmp_path, make_user):
    """A user who owns a tree keeps exchanging a directory of it with a link to a root-only
    directory while root's doctor reads the same include thousands of times: what doctor reports
    comes from the tree alone. (Before doctor opened the tree once and resolved every path below
    it, a line of the root-only file was in every report.) And since the user may change every
    file of it, doctor says so of each and reads none."""
    user = make_user()
    token = "ROOT-ONLY-" + os.urandom(6).hex()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "f").write_text(f"auth bogus pam_unix.so {token}\n")
    (private / "f").chmod(0o600)
    home = Path(subprocess.run(["mktemp", "-d", "/tmp/totpd-doctor-race-XXXXXX"], check=True,
                               capture_output=True, text=True).stdout.strip())
    home.chmod(0o755)
    try:
        tree = home / "tree"
        write(tree, "/x/f", "account required pam_permit.so\n")
        write(tree, "/etc/pam.d/sudo", "auth required pam_totpd.so\n" + "@include /x/f\n" * 20000)
        (tree / "y").symlink_to(private)
        write(home, "/swap.py", SWAPPER)
        subprocess.run(["chown", "-R", "-h", f"{user}:", str(tree)], check=True)
        swapper = subprocess.Popen(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                                    "/usr/bin/python3", str(home / "swap.py"), str(tree / "x"), str(tree / "y")])
        try:
            reports = [doctor(tree)[1] for _ in range(5)]
        finally:
            swapper.kill()
            swapper.wait()
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=True)
    # Plain booleans: pytest's account of a failed `in` over megabytes of reports takes minutes.
    leaked = [finding["location"] for report in reports for finding in report["findings"]
              if token in finding["message"] + finding["fix"]]
    assert leaked == [], f"{len(leaked)} findings quote the root-only file, the first at {leaked[:1]}"
    judged = [sum(finding["id"] == "pam.untrusted-file" for finding in report["findings"]) for report in reports]
    assert all(judged), judged


def test_doctor_run_by_a_user_trusts_none_of_that_users_files(make_user):
    """Doctor run by an account that is not root (an admin_group member) takes the files that
    account owns for what they are: someone else's than root's, who may rewrite the stack."""
    user = make_user()
    home = Path(tempfile.mkdtemp(prefix="totpd-doctor-user-", dir="/tmp"))
    home.chmod(0o755)
    try:
        write(home, "/etc/pam.d/sudo", "auth sufficient pam_permit.so\nauth required pam_totpd.so\n")
        subprocess.run(["chown", "-R", f"{user}:", str(home)], check=True)
        result = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                                 _binary("TOTPCTL_BIN"), "doctor", "--root", str(home), "--json"],
                                capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(home)
    assert result.returncode == 1, result
    ids = {finding["id"] for finding in json.loads(result.stdout)["findings"]}
    assert "pam.untrusted-file" in ids, ids
