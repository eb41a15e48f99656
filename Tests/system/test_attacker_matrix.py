"""The local attacker matrix (issue 12, item 7): what an unprivileged local user can try against
the real daemon, its store, its sockets and its configuration, one test per attack. Each attack
is refused. Where the daemon sees it, the answer is DENIED, nothing of the target's changes, and
the audit table has a row with the attacker's uid and the refusal; where it does not, the kernel
refuses (file modes), the module fails closed, totpctl says why, or the daemon refuses to start
and names the path and the fix."""

import contextlib
import errno
import json
import os
import pwd
import secrets
import socket
import sqlite3
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import Daemon, Tools, in_process_of, totp, wrong_code
from test_pam_login import AUTH_FAILED, AUTH_OK, UNAVAILABLE, enroll
from test_return_codes import fake_daemon
from wire import TAG, exchange, string


@pytest.fixture
def daemon_config():
    # Several checked codes of one account within a 30-second window (the re-enrollment attempts).
    return "rate_limit:\n  attempts: 20\n"


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


STATE_TABLES = ("enrollment", "pending_enrollment", "throttle", "recovery_code", "grace")


def store_rows(daemon, user, tables=STATE_TABLES):
    """Every row the store keeps about `user` in `tables`, read-only as root."""
    with contextlib.closing(sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True)) as database:
        return {table: database.execute(f"SELECT * FROM {table} WHERE user = ? ORDER BY rowid", (user,)).fetchall()
                for table in tables}


def audit_by(daemon, uid):
    """(event, account, result) of each audit row written for a request of `uid`, oldest first."""
    with contextlib.closing(sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True)) as database:
        return database.execute("SELECT event, user, result FROM audit WHERE caller_uid = ? ORDER BY id",
                                (uid,)).fetchall()


def ask_as(caller, path, operation, **fields):
    """One raw request sent by a process of `caller`, past every check totpctl makes:
    [result, MESSAGE, the tags of the answer's fields]."""
    def ask():
        result, answer = exchange(path, operation, **fields)
        return [result, string(answer, "MESSAGE"), sorted(answer)]
    return in_process_of(caller, ask)


def errors_as(user, attempts):
    """Runs each named attempt as `user`: the errno name it failed with, or "done"."""
    def attempt_all():
        outcome = {}
        for name, attempt in attempts.items():
            try:
                attempt()
                outcome[name] = "done"
            except OSError as error:
                outcome[name] = errno.errorcode[error.errno]
        return outcome
    return in_process_of(user, attempt_all)


@contextlib.contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def refused_start(command):
    """Runs the daemon, which must stop at once: returns what it printed."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the daemon started: {command}")
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def owned_directory(parent, user):
    """A directory of `user`'s (0755) in `parent`."""
    directory = parent / "attacker"
    directory.mkdir()
    os.chown(directory, uid_of(user), uid_of(user))
    return directory


def sticky_directory(parent):
    """A directory anyone may write to but not rename others' entries in, as /tmp is."""
    directory = parent / "shared"
    directory.mkdir()
    directory.chmod(0o1777)
    return directory


# A well-formed OK answer with no fields: a client that believed it would let anyone in.
OK = b"\x00\x00\x00\x02\x01\x00"


@contextlib.contextmanager
def fake_daemon_of(user, path):
    """`fake_daemon` answering OK to everything, listening at `path` in a process of `user`
    (of root's if None), with a socket everyone may connect to, until the block ends."""
    ready, stop = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready[0])
            os.close(stop[1])
            if user:
                os.setgid(uid_of(user))
                os.setuid(uid_of(user))
            os.umask(0)
            listener = fake_daemon(path, OK)
            os.write(ready[1], b"!")
            os.read(stop[0], 1)
            listener.close()
        finally:
            os._exit(0)
    os.close(ready[1])
    os.close(stop[0])
    try:
        assert os.read(ready[0], 1) == b"!", f"the fake daemon of {user} did not start"
        yield
    finally:
        os.close(stop[1])
        os.waitpid(pid, 0)
        os.close(ready[0])


def test_a_user_cannot_read_the_store_or_the_key(workdir, make_user):
    """Started under umask 0, the daemon still keeps its state directory 0700 and every file in
    it 0600, all root's: the attacker can list nothing and open nothing, neither directly nor
    through the daemon's open descriptors, nor open the store with SQLite."""
    attacker, user = make_user(), make_user()
    daemon = Daemon(workdir)
    with umask(0):
        daemon.start()
    try:
        enroll(Tools(workdir, daemon), user)
        state = Path(daemon.state)
        info = os.lstat(state)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700
        files = sorted(state.iterdir())
        assert {"totpd.sqlite", "totpd.sqlite-wal", "secret.key", "totpd.lock"} <= {path.name for path in files}
        for path in files:
            info = os.lstat(path)
            assert (stat.S_ISREG(info.st_mode), info.st_uid, stat.S_IMODE(info.st_mode)) == (True, 0, 0o600), path
        descriptors = f"/proc/{daemon.process.pid}/fd"
        attempts = {str(path): (lambda path=path: open(path, "rb").close()) for path in files}
        attempts.update({"list " + str(state): lambda: os.listdir(state),
                         "list " + descriptors: lambda: os.listdir(descriptors)})
        assert set(errors_as(attacker, attempts).values()) == {"EACCES"}

        def open_store():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{state}/totpd.sqlite?mode=ro", uri=True)) as database:
                    return database.execute("SELECT count(*) FROM enrollment").fetchall()
            except sqlite3.OperationalError as error:
                return str(error)
        assert in_process_of(attacker, open_store) == "unable to open database file"
    finally:
        daemon.stop()


@pytest.fixture
def victim(tools, make_user):
    """An account worth attacking: active, one failure on record and a replacement pending, so
    any refused operation would have changed something had it run."""
    name = make_user()
    secret = enroll(tools, name)
    assert exchange(tools.daemon.socket, "VERIFY", user=name, code=wrong_code(secret))[0] == "REJECTED"
    replacement = json.loads(tools.totpctl("enroll", "--user", name, "--json").stdout)["secret"]
    return SimpleNamespace(name=name, codes={"now": totp(secret, 1), "next": totp(secret, 2),
                                             "pending": totp(replacement)})


# operation: the raw request's fields (codes named: the victim's right ones), the event and
# refusal audited, and totpctl's command for it ({user}: the victim), if it has one.
CROSS_USER = {
    "verify": ("VERIFY", {"code": "now"}, "verify", "other-user", None),
    "precheck": ("PRECHECK", {}, "precheck", "other-user", None),
    "enroll": ("ENROLL_BEGIN", {"code": "now"}, "enroll-begin", "other-user", ["enroll", "{user}", "--replace"]),
    "confirm": ("ENROLL_CONFIRM", {"code": "pending"}, "enroll-confirm", "other-user", ["confirm", "{user}"]),
    "recovery-codes": ("RECOVERY_REGENERATE", {"code": "now"}, "recovery-regenerate", "other-user",
                       ["recovery-codes", "{user}", "--regenerate"]),
    "resync": ("RESYNC", {"code": "now", "next_code": "next"}, "resync", "other-user", ["resync", "{user}"]),
    "status": ("STATUS", {}, "status", "other-user", ["status", "{user}"]),
    "revoke": ("REVOKE", {}, "revoke", "not-admin", ["revoke", "{user}"]),
    "reset": ("RESET", {}, "reset", "not-admin", ["reset", "{user}"]),
    "unlock": ("UNLOCK", {}, "unlock", "not-admin", ["unlock", "{user}"]),
    "log": ("AUDIT_LOG", {}, "audit-log", "not-admin", ["log", "--user", "{user}"]),
    "login-enroll": ("LOGIN_ENROLL", {"service": "sshd"}, "login-enroll", "not-root", None),
}


@pytest.mark.parametrize("operation", CROSS_USER)
def test_a_user_cannot_act_on_another_account(tools, make_user, victim, operation):
    """The attacker runs the operation on the victim's account, with the victim's right codes,
    through totpctl and as a raw frame: each refused "may not", the victim's rows unchanged,
    each attempt an audit row with the attacker's uid."""
    request, fields, event, refusal, command = CROSS_USER[operation]
    attacker = make_user()
    uid = uid_of(attacker)
    values = {key: victim.codes.get(value, value) for key, value in fields.items()}
    before = store_rows(tools.daemon, victim.name)
    attempts = 0
    if command:
        typed = [values[key] for key in ("code", "next_code") if key in values]
        through_totpctl = tools.totpctl(*[part.format(user=victim.name) for part in command], user=attacker,
                                        codes=typed)
        refused = through_totpctl.returncode != 0 and f"uid {uid} may not" in through_totpctl.stderr
        assert refused, through_totpctl.stderr
        attempts += 1
    result, message, tags = ask_as(attacker, tools.daemon.socket, request, user=victim.name, **values)
    assert result == "DENIED" and message.startswith(f"uid {uid} may not ") and victim.name in message, message
    assert tags == [TAG["MESSAGE"]]
    attempts += 1
    assert store_rows(tools.daemon, victim.name) == before
    assert audit_by(tools.daemon, uid) == [(event, victim.name, refusal)] * attempts


def test_a_user_cannot_list_the_enrolled_accounts(tools, make_user, victim):
    """LIST names every enrolled account: refused to the attacker through totpctl and as a raw
    frame, both audited."""
    attacker = make_user()
    through_totpctl = tools.totpctl("list", user=attacker)
    assert through_totpctl.returncode != 0 and "may not" in through_totpctl.stderr
    assert victim.name not in through_totpctl.stdout + through_totpctl.stderr
    result, message, tags = ask_as(attacker, tools.daemon.socket, "LIST")
    assert result == "DENIED" and "may not" in message and tags == [TAG["MESSAGE"]], message
    assert audit_by(tools.daemon, uid_of(attacker)) == [("list", None, "not-admin")] * 2


def test_a_user_cannot_re_enroll_itself_without_a_current_code(tools, make_user):
    """A session of the user (a borrowed terminal, malware) tries to bind a new phone to the
    active account with no code, a wrong code, the code last used and a made-up recovery code:
    each refused, no secret handed out, the active secret kept, nothing pending, each audited.
    With a current code the same request goes through, so the refusals are the proof's."""
    user = make_user()
    secret = enroll(tools, user)
    used = totp(secret, 1)
    assert exchange(tools.daemon.socket, "VERIFY", user=user, code=used)[0] == "OK"
    # Each proof checked counts as an attempt (the throttle row); nothing else may change.
    kept = ("enrollment", "pending_enrollment", "recovery_code", "grace")
    before = store_rows(tools.daemon, user, kept)

    without = tools.totpctl("enroll", "--json", user=user)
    assert without.returncode != 0 and "already enrolled" in without.stderr, without.stderr
    wrong = tools.totpctl("enroll", "--json", "--replace", user=user, codes=[wrong_code(secret)])
    assert wrong.returncode != 0 and "not accepted" in wrong.stderr, wrong.stdout + wrong.stderr
    for proof, answer in [({}, "DENIED"), ({"code": wrong_code(secret)}, "REJECTED"), ({"code": used}, "REJECTED"),
                          ({"code": "abcde-fghij"}, "REJECTED")]:
        result, message, tags = ask_as(user, tools.daemon.socket, "ENROLL_BEGIN", user=user, **proof)
        assert result == answer and TAG["SECRET"] not in tags, (proof, result, message)
    assert store_rows(tools.daemon, user, kept) == before and before["pending_enrollment"] == []
    refused = [("enroll-begin", user, "proof-required"), ("enroll-proof", user, "rejected")]
    assert audit_by(tools.daemon, uid_of(user)) == refused * 2 + [("enroll-proof", user, "replayed"),
                                                                  ("enroll-proof", user, "rejected")]

    with_code = tools.totpctl("enroll", "--json", "--replace", user=user, codes=[totp(secret, 2)])
    assert with_code.returncode == 0 and json.loads(with_code.stdout)["secret"], with_code.stderr
    assert len(store_rows(tools.daemon, user)["pending_enrollment"]) == 1


@pytest.fixture
def others(tools, make_user):
    """Other accounts in every state an enumeration could tell apart, and a name no account has;
    `code` is the active one's right code."""
    active, pending, revoked, never = make_user(), make_user(), make_user(), make_user()
    secret = enroll(tools, active)
    assert tools.totpctl("enroll", "--user", pending, "--json").returncode == 0
    enroll(tools, revoked)
    assert tools.totpctl("revoke", revoked).returncode == 0
    names = {"active": active, "pending": pending, "revoked": revoked, "never enrolled": never,
             "no such account": "totpdt" + secrets.token_hex(4)}
    return SimpleNamespace(names=names, code=totp(secret, 1))


@pytest.mark.parametrize("operation", ["STATUS", "PRECHECK", "VERIFY"])
def test_other_accounts_all_look_alike(tools, make_user, pam_service, others, operation):
    """The attacker asks about accounts that are active, pending, revoked, never enrolled or do
    not exist: as raw frames, through totpctl status and through the module as a screen locker
    would run it. Every answer is the same but for the name, and every request is audited."""
    attacker = make_user()
    fields = {"code": others.code} if operation == "VERIFY" else {}
    service = pam_service(f"socket={tools.daemon.socket}")

    def answers(name):
        raw = ask_as(attacker, tools.daemon.socket, operation, user=name, **fields)
        if operation == "STATUS":
            client = tools.totpctl("status", name, user=attacker)
        else:
            client = tools.pamtester(service, name, others.code, user=attacker)
        return [raw, client.returncode, client.stdout, client.stderr]

    seen = {state: json.dumps(answers(name)).replace(name, "NAME") for state, name in others.names.items()}
    assert len(set(seen.values())) == 1, seen
    raw, returncode, _, error = json.loads(seen["active"])
    assert raw[0] == "DENIED" and returncode != 0, (raw, error)
    if operation != "STATUS":
        assert AUTH_FAILED in error

    client_event = "status" if operation == "STATUS" else "precheck"
    expected = [(event, name, "other-user") for name in others.names.values()
                for event in (operation.lower(), client_event)]
    assert sorted(audit_by(tools.daemon, uid_of(attacker))) == sorted(expected)


def test_a_user_cannot_reach_roots_socket(tools, make_user):
    """Root's socket is root's alone (0600): the kernel refuses the attacker's connect, raw or
    through totpctl, so the daemon never hears of it; the shared socket answers the same user."""
    attacker = make_user()
    root_socket = tools.daemon.socket + ".root"
    info = os.lstat(root_socket)
    assert stat.S_ISSOCK(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o600

    def connect():
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(root_socket)
    assert errors_as(attacker, {"connect": connect}) == {"connect": "EACCES"}
    through_totpctl = tools.totpctl("status", "--socket", root_socket, user=attacker)
    assert through_totpctl.returncode != 0 and "Permission denied" in through_totpctl.stderr, through_totpctl.stderr
    assert audit_by(tools.daemon, uid_of(attacker)) == []
    assert ask_as(attacker, tools.daemon.socket, "STATUS", user=attacker)[0] == "OK"


def test_a_user_cannot_move_or_replace_the_running_daemons_sockets(workdir, make_user):
    """The daemon makes its socket directory root's and 0755, even under umask 0: the attacker
    can neither remove nor rename either socket, bind another in its place or beside it, nor
    move the directories above; the daemon keeps serving on the same sockets."""
    attacker, user = make_user(), make_user()
    daemon = Daemon(workdir)
    directory = workdir / "run"
    daemon.socket = str(directory / "socket")
    with umask(0):
        daemon.start()
    try:
        info = os.lstat(directory)
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o755)
        sockets = [daemon.socket, daemon.socket + ".root"]
        before = [os.lstat(path).st_ino for path in sockets]

        def bind(path):
            socket.socket(socket.AF_UNIX).bind(path)
        outcome = errors_as(attacker, {
            "unlink socket": lambda: os.unlink(sockets[0]),
            "unlink socket.root": lambda: os.unlink(sockets[1]),
            "rename socket.root": lambda: os.rename(sockets[1], directory / "moved"),
            "bind at socket.root": lambda: bind(sockets[1]),
            "bind beside": lambda: bind(str(directory / "socket.new")),
            "symlink beside": lambda: os.symlink(sockets[0], directory / "socket.new"),
            "rename the directory": lambda: os.rename(directory, workdir / "moved"),
            "rename the directory above": lambda: os.rename(workdir, f"{workdir}-moved"),
        })
        assert outcome == {"unlink socket": "EACCES", "unlink socket.root": "EACCES", "rename socket.root": "EACCES",
                           "bind at socket.root": "EADDRINUSE", "bind beside": "EACCES", "symlink beside": "EACCES",
                           "rename the directory": "EACCES", "rename the directory above": "EPERM"}
        assert [os.lstat(path).st_ino for path in sockets] == before
        enroll(Tools(workdir, daemon), user)
    finally:
        daemon.stop()


def plant_file(path):
    Path(path).touch()


def plant_symlink(path):
    os.symlink(Path(path).parent / "elsewhere", path)


@pytest.mark.parametrize("name", ["socket", "socket.root"])
@pytest.mark.parametrize("plant", [None, plant_file, plant_symlink, "listening", "stale"],
                         ids=["nothing yet", "file", "symlink", "listening socket", "socket left unserved"])
def test_the_daemon_refuses_sockets_where_a_user_could_take_the_name_first(workdir, make_user, name, plant):
    """With its sockets in a sticky directory everyone may create files in (like /tmp), the
    attacker can take a socket path before the daemon starts, or between a stop and the next
    start: a file, a symbolic link, a socket the attacker serves, or one left for the daemon to
    replace. The daemon refuses such a directory whatever is there, naming the fix, leaves the
    attacker's file alone and no socket of its own behind."""
    attacker = make_user()
    shared = sticky_directory(workdir)
    daemon = Daemon(workdir)
    daemon.socket = str(shared / "socket")
    taken = str(shared / name)
    with fake_daemon_of(attacker, taken) if plant == "listening" else contextlib.nullcontext():
        if plant == "stale":
            in_process_of(attacker, lambda: socket.socket(socket.AF_UNIX).bind(taken))
        elif callable(plant):
            in_process_of(attacker, lambda: plant(taken))
        output = refused_start(daemon.command())
        assert (f"socket directory {shared} is writable by everyone: another user could take the socket's name "
                "first; use a directory of root's such as /run/totpd") in output, output
        assert sorted(os.listdir(shared)) == ([] if plant is None else [name])
        if plant:
            assert os.lstat(taken).st_uid == uid_of(attacker)


def test_the_daemon_makes_no_socket_directory_where_a_user_chose(workdir, make_user):
    """The socket's directory does not exist yet and the one above it is the attacker's, with a
    symbolic link to a directory of root's: the daemon used to create the socket's directory
    (and chmod it) through the link before it checked the path. It refuses before making
    anything."""
    attacker = make_user()
    victim = workdir / "private"
    victim.mkdir(mode=0o700)
    directory = owned_directory(workdir, attacker)
    in_process_of(attacker, lambda: os.symlink(victim, directory / "link"))
    daemon = Daemon(workdir)
    daemon.socket = str(directory / "link" / "made" / "socket")
    output = refused_start(daemon.command())
    assert f"socket directory {directory}/link is not a directory (symbolic links are refused)" in output, output
    assert list(victim.iterdir()) == [] and victim.stat().st_mode & 0o777 == 0o700


def test_the_import_refuses_a_fifo_a_user_put_at_its_path(workdir, make_user):
    """A FIFO at the users file's path held `totpd --import-oath` until someone wrote to it."""
    attacker = make_user()
    path = sticky_directory(workdir) / "users.oath"
    in_process_of(attacker, lambda: os.mkfifo(path))
    command = Daemon(workdir).command() + ["--import-oath", str(path)]
    assert f"{path} is not a regular file" in refused_start(command)


@pytest.mark.parametrize("owner, listener, refusal", [
    ("root", "root", None),
    ("attacker", "attacker", "refusing {path}: it is not a socket owned by uid 0, so it is not totpd's"),
    ("root", "attacker", "refusing {path}: the process behind it runs as uid {uid}, not 0, so it is not totpd"),
], ids=["root's socket, root's process (control)", "the attacker's socket", "root's socket, the attacker's process"])
def test_the_module_and_totpctl_refuse_a_fake_daemon(workdir, make_user, pam_service, owner, listener, refusal):
    """A fake daemon that answers OK to everything, on a socket the attacker owns, or on a socket
    file of root's that the attacker's process listens on (chowned to root after the attacker
    bound it). The module, run by the login stack (root) or by a screen locker (the user), fails
    closed, and totpctl refuses with the reason; the same fake run by root, the control, is
    believed, so what the refusals turn on is who owns and who serves the socket."""
    attacker = make_user()
    path = str(owned_directory(workdir, attacker) / "socket")
    with fake_daemon_of(attacker if listener == "attacker" else None, path):
        if owner == "root":
            os.chown(path, 0, 0)
        assert os.lstat(path).st_uid == (0 if owner == "root" else uid_of(attacker))
        tools = Tools(workdir, SimpleNamespace(socket=path))
        service = pam_service(f"socket={path}")
        for caller in (None, attacker):
            login = tools.pamtester(service, attacker, "123456", user=caller)
            if refusal is None:
                assert login.returncode == 0 and AUTH_OK in login.stdout, (caller, login.stdout + login.stderr)
            else:
                assert login.returncode != 0 and UNAVAILABLE in login.stderr, (caller, login.stdout + login.stderr)
                assert "The verification service is unavailable." in login.stdout + login.stderr
        unlocked = tools.totpctl("unlock", attacker, user=attacker)
        if refusal is None:
            assert unlocked.returncode == 0, unlocked.stderr
        else:
            assert unlocked.returncode != 0, unlocked.stdout
            assert refusal.format(path=path, uid=uid_of(attacker)) in unlocked.stderr, unlocked.stderr


# Each arranges a store or key path the attacker could redirect: (option, path, the refusal,
# the directory that must stay empty).
def link_to_a_private_directory(workdir, attacker):
    real = workdir / "real-state"
    real.mkdir(mode=0o700)
    (workdir / "state").symlink_to(real)
    return ("--state-dir", workdir / "state",
            f"state directory {workdir}/state is not a directory (symbolic links are refused)", real)


def link_into_the_attackers_directory(workdir, attacker):
    real = owned_directory(workdir, attacker) / "state"
    in_process_of(attacker, lambda: os.mkdir(real, 0o700))
    (workdir / "state").symlink_to(real)
    return ("--state-dir", workdir / "state",
            f"state directory {workdir}/state is not a directory (symbolic links are refused)", real)


def pre_created_by_the_attacker(workdir, attacker):
    state = sticky_directory(workdir) / "state"
    in_process_of(attacker, lambda: os.mkdir(state, 0o700))
    return ("--state-dir", state,
            f"state directory {state} is owned by uid {uid_of(attacker)}, not 0; fix: chown 0 {state}", state)


def inside_the_attackers_directory(workdir, attacker):
    directory = owned_directory(workdir, attacker)
    return ("--state-dir", directory / "state",
            f"{directory} is owned by uid {uid_of(attacker)}; it must be root's: chown root {directory}", directory)


def inside_a_world_writable_directory(workdir, attacker):
    directory = workdir / "open"
    directory.mkdir()
    directory.chmod(0o777)
    return ("--state-dir", directory / "state",
            f"{directory} is writable by group or others (mode 777); fix: chmod go-w {directory}", directory)


def a_trailing_slash_on_the_attackers_link(workdir, attacker):
    # With a trailing slash lstat follows the link: the attacker could point it elsewhere later.
    real = workdir / "private"
    real.mkdir(mode=0o700)
    link = sticky_directory(workdir) / "state"
    in_process_of(attacker, lambda: os.symlink(real, link))
    return ("--state-dir", f"{link}/", f"path {link}/ must be written plainly: no trailing slash, no . or .. in it",
            real)


def a_way_back_through_the_attackers_directory(workdir, attacker):
    state = f"{owned_directory(workdir, attacker)}/../state"
    return ("--state-dir", state, f"path {state} must be written plainly: no trailing slash, no . or .. in it", None)


def a_combining_mark_after_a_slash(workdir, attacker):
    # U+0301 joins the `/` before it into one Swift Character: a split on Characters missed it.
    directory = owned_directory(workdir, attacker)
    return ("--state-dir", f"{directory}/\u0301state",
            f"{directory} is owned by uid {uid_of(attacker)}; it must be root's: chown root {directory}", directory)


def a_mark_hiding_a_trailing_slash(workdir, attacker):
    # U+0600 joins the `/` after it: the trailing slash went unseen, and lstat followed the link.
    real = workdir / "private"
    real.mkdir(mode=0o700)
    link = f"{sticky_directory(workdir)}/state\u0600"
    in_process_of(attacker, lambda: os.symlink(real, link))
    # The log escapes the mark, so the path is not matched here.
    return ("--state-dir", f"{link}/", "must be written plainly: no trailing slash, no . or .. in it", real)


def key_file_link(workdir, attacker):
    real = workdir / "keys" / "real.key"
    real.parent.mkdir()
    real.write_bytes(secrets.token_bytes(32))
    real.chmod(0o600)
    (real.parent / "secret.key").symlink_to(real)
    return ("--key-file", real.parent / "secret.key",
            f"key file {real.parent}/secret.key is not a regular file (symbolic links are refused)", None)


def key_file_inside_the_attackers_directory(workdir, attacker):
    directory = owned_directory(workdir, attacker)
    return ("--key-file", directory / "secret.key",
            f"{directory} is owned by uid {uid_of(attacker)}; it must be root's: chown root {directory}", directory)


@pytest.mark.parametrize("arrange", [
    link_to_a_private_directory, link_into_the_attackers_directory, pre_created_by_the_attacker,
    inside_the_attackers_directory, inside_a_world_writable_directory, a_trailing_slash_on_the_attackers_link,
    a_way_back_through_the_attackers_directory, a_combining_mark_after_a_slash, a_mark_hiding_a_trailing_slash,
    key_file_link, key_file_inside_the_attackers_directory,
], ids=lambda arrange: arrange.__name__.replace("_", " "))
def test_the_daemon_refuses_a_store_or_key_others_can_redirect(workdir, make_user, arrange):
    """The state directory or the key file at a path the attacker can redirect or replace: a
    symbolic link (even to a private directory of root's), a directory the attacker made first
    (in a sticky one such as /tmp), or inside a directory the attacker owns or anyone may write. Whoever can rename the state directory away makes the next start
    open an empty store, every enrollment gone. The daemon refuses to start, naming the path and
    the fix, and writes nothing there."""
    attacker = make_user()
    option, path, message, untouched = arrange(workdir, attacker)
    command = Daemon(workdir).command()
    if option in command:
        command[command.index(option) + 1] = str(path)
    else:
        command += [option, str(path)]
    output = refused_start(command)
    assert message in output, output
    assert untouched is None or list(untouched.iterdir()) == []
    assert not (workdir / "socket").exists()


EXEMPT_EVERYONE = 'second_factor:\n  exempt: ["*"]\n'


# Each arranges a configuration file the attacker could change: (its path, the refusal).
def world_writable(workdir, attacker):
    path = workdir / "totpd.conf"
    path.chmod(0o666)
    return path, f"{path}: is writable by group or others (mode 666); fix: chmod go-w {path}"


def group_writable(workdir, attacker):
    path = workdir / "totpd.conf"
    path.chmod(0o620)
    return path, f"{path}: is writable by group or others (mode 620); fix: chmod go-w {path}"


def owned_by_the_attacker(workdir, attacker):
    path = workdir / "totpd.conf"
    os.chown(path, uid_of(attacker), -1)
    return path, f"{path}: is owned by uid {uid_of(attacker)}; it must be root's: chown root {path}"


def in_the_attackers_directory(workdir, attacker):
    directory = owned_directory(workdir, attacker)
    path = directory / "totpd.conf"
    path.write_text(EXEMPT_EVERYONE)
    return path, (f"{path}: configuration directory {directory} is owned by uid {uid_of(attacker)}; "
                  f"it must be root's: chown root {directory}")


def in_a_world_writable_directory(workdir, attacker):
    directory = workdir / "open"
    directory.mkdir()
    directory.chmod(0o777)
    path = directory / "totpd.conf"
    path.write_text(EXEMPT_EVERYONE)
    return path, (f"{path}: configuration directory {directory} is writable by group or others (mode 777); "
                  f"fix: chmod go-w {directory}")


def a_symbolic_link(workdir, attacker):
    path = workdir / "link.conf"
    path.symlink_to(workdir / "totpd.conf")
    return path, f"{path}: is a symbolic link; replace it with the file"


def in_a_symlinked_directory(workdir, attacker):
    real = workdir / "etc"
    real.mkdir()
    (real / "totpd.conf").write_text(EXEMPT_EVERYONE)
    link = workdir / "etc-link"
    link.symlink_to(real)
    path = link / "totpd.conf"
    return path, f"{path}: configuration directory {link} is not a directory (symbolic links are refused)"


def in_the_attackers_directory_behind_a_combining_mark(workdir, attacker):
    directory = owned_directory(workdir, attacker)
    path = directory / "\u0301totpd.conf"
    in_process_of(attacker, lambda: path.write_text(EXEMPT_EVERYONE))
    return path, (f"{path}: configuration directory {directory} is owned by uid {uid_of(attacker)}; "
                  f"it must be root's: chown root {directory}")


def a_fifo_the_attacker_made(workdir, attacker):
    # Opened for reading, a FIFO would hold the start until someone writes to it.
    path = sticky_directory(workdir) / "totpd.conf"
    in_process_of(attacker, lambda: os.mkfifo(path))
    return path, f"{path}: is not a regular file"


@pytest.mark.parametrize("arrange", [
    world_writable, group_writable, owned_by_the_attacker, in_the_attackers_directory, in_a_world_writable_directory,
    a_symbolic_link, in_a_symlinked_directory, in_the_attackers_directory_behind_a_combining_mark,
    a_fifo_the_attacker_made,
], ids=lambda arrange: arrange.__name__.replace("_", " "))
def test_the_daemon_refuses_a_configuration_others_can_change(workdir, make_user, arrange):
    """A configuration file the attacker could rewrite (to exempt everyone from the second
    factor): writable by others or the group, the attacker's own, in a directory the attacker
    can change, or reached through a symbolic link. The daemon refuses to start, naming the file
    and the fix, and binds no socket."""
    attacker = make_user()
    daemon = Daemon(workdir, EXEMPT_EVERYONE)
    path, message = arrange(workdir, attacker)
    command = daemon.command()
    command[command.index("--config") + 1] = str(path)
    output = refused_start(command)
    assert message in output, output
    assert not Path(daemon.socket).exists() and not Path(daemon.state).exists()


def test_dev_null_as_the_configuration_is_allowed(workdir, make_user):
    """`--config /dev/null` (no configuration) is not a file anyone can change: the daemon runs
    with the defaults."""
    user = make_user()
    daemon = Daemon(workdir)
    daemon.config = Path("/dev/null")
    daemon.start()
    try:
        enroll(Tools(workdir, daemon), user)
    finally:
        daemon.stop()
