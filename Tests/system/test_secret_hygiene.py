"""After a full scenario through the real binaries (enroll, confirm, a login with a code and one
with a recovery code, resync, regenerate, a login with a new recovery code, revoke), no secret,
code or recovery code is in the daemon's log, the audit table, an error message, the daemon's
/proc cmdline or environ, or any file but the encrypted store, and the store holds none in the
clear. And the daemon leaves no core dump, whatever limit it was started with."""

import base64
import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Daemon, _binary, totp

RELAXED = "rate_limit:\n  attempts: 20\n"


@pytest.fixture
def daemon_config():
    return RELAXED


def needles(secret, codes, recovery_codes):
    """What must not leak, as text patterns and raw bytes."""
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    texts = [re.escape(secret), re.escape(raw.hex())]
    texts += [rf"(?<!\d){code}(?!\d)" for code in codes]
    for recovery in recovery_codes:
        plain = recovery.replace("-", "")
        texts.append(rf"{plain[:5]}-?{plain[5:]}")
    return [re.compile(text, re.I) for text in texts], [raw, secret.encode()]


def leaks(text, patterns):
    return [pattern.pattern for pattern in patterns if pattern.search(text)]


def test_no_secret_code_or_recovery_code_outside_the_store(workdir, daemon, tools, pam_service, make_user):
    user = make_user()
    service = pam_service(f"socket={daemon.socket}")
    said = []  # every error message and diagnostic the scenario produced

    def ctl(*arguments, codes=()):
        done = tools.totpctl(*arguments, codes=codes)
        said.append(done.stderr)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def login(code):
        done = tools.pamtester(service, user, code)
        said.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr

    secret = json.loads(ctl("enroll", "--user", user, "--json"))["secret"]
    codes = [totp(secret)]
    first_recovery = json.loads(ctl("confirm", "--user", user, "--json", codes=codes[-1:]))["recovery_codes"]
    codes.append(totp(secret, 1))
    login(codes[-1])
    login(first_recovery[0])
    codes += [totp(secret, 10), totp(secret, 11)]
    ctl("resync", "--user", user, codes=codes[-2:])
    codes.append(totp(secret, 12))
    second_recovery = re.findall(r"\b[a-z2-7]{5}-[a-z2-7]{5}\b",
                                 ctl("recovery-codes", "--regenerate", "--user", user, codes=codes[-1:]))
    assert len(second_recovery) == 10
    login(second_recovery[0])
    patterns, raw = needles(secret, codes, first_recovery + second_recovery)
    copied_in = {Path(_binary(variable)).read_bytes() for variable in ("TOTPCTL_BIN", "PAM_MODULE")}

    pid = daemon.process.pid
    process_text = "\n".join(Path(f"/proc/{pid}/{name}").read_bytes().decode(errors="replace")
                             for name in ("cmdline", "environ"))
    ctl("revoke", user)
    with sqlite3.connect(f"file:{daemon.state}/totpd.sqlite?mode=ro", uri=True) as database:
        audit = "\n".join(map(repr, database.execute("SELECT * FROM audit")))
    daemon.stop()

    assert leaks(daemon.logged(), patterns) == []
    assert audit and leaks(audit, patterns) == []
    assert leaks("\n".join(said), patterns) == []
    assert leaks(process_text, patterns) == []
    for path in workdir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data in copied_in:
            continue  # a binary the fixture copied in, unchanged: six digits turn up in it by chance
        assert not any(needle in data for needle in raw), f"the secret is in {path}"
        if not path.name.startswith("totpd.sqlite"):
            assert leaks(data.decode(errors="replace"), patterns) == [], f"{path} holds a code or secret"
        else:
            # The store keeps recovery codes as keyed digests and the secret sealed.
            recovery_patterns = patterns[2 + len(codes):]
            assert leaks(data.decode(errors="replace"), recovery_patterns) == [], f"{path} holds a recovery code"


@pytest.fixture
def core_pattern():
    """Sets the kernel's core_pattern for the test and restores it."""
    path = Path("/proc/sys/kernel/core_pattern")
    saved = path.read_text()
    yield path.write_text
    path.write_text(saved)


def dumped(record, pid, wait):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if record.exists() and str(pid) in record.read_text().split():
            return True
        time.sleep(0.05)
    return False


def test_the_daemon_never_dumps_core(workdir, core_pattern):
    # Cores go to a helper that notes the pid. The kernel pipes a core to a helper even when
    # RLIMIT_CORE is 0, so only the daemon marking itself not dumpable keeps it from dumping.
    record, helper = workdir / "dumped", workdir / "record-core"
    helper.write_text(f"#!/bin/sh\necho \"$1\" >> {record}\ncat > /dev/null\n")
    helper.chmod(0o755)
    core_pattern(f"|{helper} %p")
    # The control: a process with the limit at 0 does dump, to the helper.
    control = subprocess.Popen(["prlimit", "--core=0:0", "--", "sleep", "60"])
    time.sleep(0.2)
    control.send_signal(signal.SIGSEGV)
    control.wait(timeout=15)
    assert dumped(record, control.pid, wait=10), "this machine dumps no cores: the check below would prove nothing"

    daemon = Daemon(workdir, prefix=["prlimit", "--core=unlimited:unlimited", "--"])
    daemon.start()
    pid = daemon.process.pid
    # Started with no limit, the daemon lowers its own to 0 ...
    assert re.search(r"Max core file size\s+0\s+0", Path(f"/proc/{pid}/limits").read_text())
    # ... and, not dumpable, sends nothing to the helper when it crashes, nor does Swift's
    # backtracer print registers and the memory they point at to its log.
    daemon.process.send_signal(signal.SIGSEGV)
    assert daemon.process.wait(timeout=15) == -signal.SIGSEGV
    assert not dumped(record, pid, wait=2)
    assert "Backtrace" not in daemon.logged() and "rip 0x" not in daemon.logged()
