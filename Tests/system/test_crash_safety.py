"""kill -9 of the real daemon at random moments of a mixed load (enrollments, confirmations,
verifications, revokes, resets, unlocks) from several clients, then a restart: every change
acknowledged to a client is there, no step acknowledged as used is accepted again, and SQLite's
integrity check passes. CRASH_CYCLES sets the number of cycles (make check-security: 100);
CRASH_FIGURES names a file for the run's figures."""

import base64
import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import struct
import threading
import time

from conftest import Daemon
import wire

CYCLES = int(os.environ.get("CRASH_CYCLES", "10"))
CLIENTS = 4
ACCOUNTS_PER_CLIENT = 6
# Limits out of the way: the load, not the limiter, decides what is acknowledged.
CONFIG = "rate_limit:\n  attempts: 20\nlockout:\n  failures: 20\n  hard_limit: 50\n"


def code_at(secret, moment):
    """The TOTP code and step of `moment`, computed here rather than by oathtool (conftest.totp):
    the load asks for thousands, and a process each would slow it to a crawl."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = moment // 30
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 15
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000:06d}", step


# Where an operation leads when it commits.
NEXT_STATE = {"ENROLL_BEGIN": "pending", "ENROLL_CONFIRM": "active", "REVOKE": "revoked", "RESET": "none"}


class Account:
    def __init__(self, name):
        self.name = name
        self.state = "none"
        self.secret = None
        self.used = None          # (code, step) of the last acknowledged use of a step
        self.in_flight = None     # the operation sent and not answered when the daemon died


class Load:
    """One client's loop over its own accounts until the daemon dies under it."""

    def __init__(self, path, accounts, seed):
        self.path, self.accounts, self.random = path, accounts, random.Random(seed)
        self.acknowledged = 0

    def send(self, account, operation, **fields):
        account.in_flight = operation
        result, answer = wire.exchange(self.path, operation, user=account.name, **fields)
        account.in_flight = None
        return result, answer

    def step(self, account):
        now = int(time.time())
        if account.state == "none" or (account.state == "pending" and account.secret is None):
            # (A new ENROLL_BEGIN replaces a pending enrollment whose secret never reached us.)
            result, answer = self.send(account, "ENROLL_BEGIN")
            if result == "OK":
                account.state, account.secret = "pending", wire.string(answer, "SECRET")
        elif account.state == "pending":
            code, step = code_at(account.secret, now)
            if self.send(account, "ENROLL_CONFIRM", code=code)[0] == "OK":
                account.state, account.used = "active", (code, step)
        elif account.state == "revoked":
            if self.send(account, "RESET")[0] == "OK":
                account.state, account.secret, account.used = "none", None, None
        else:
            choice = self.random.random()
            code, step = code_at(account.secret, now)
            if choice < 0.6:
                if account.used and account.used[1] >= step:
                    return  # this step is used: a replay would only count a failure
                if self.send(account, "VERIFY", code=code)[0] == "OK":
                    account.used = (code, step)
            elif choice < 0.8:
                self.send(account, "UNLOCK")
            elif choice < 0.9:
                if self.send(account, "REVOKE")[0] == "OK":
                    account.state, account.secret, account.used = "revoked", None, None
            else:
                self.send(account, "STATUS")
                return
        self.acknowledged += 1

    def run(self):
        try:
            while True:
                self.step(self.random.choice(self.accounts))
        except OSError:
            return  # the daemon was killed


def check_after_restart(path, accounts):
    """Per account: lost acknowledged changes, and used steps accepted again."""
    lost, replayed = [], []
    for account in accounts:
        _, answer = wire.exchange(path, "STATUS", user=account.name)
        state = wire.string(answer, "STATE")
        if account.in_flight is None:
            if state != account.state:
                lost.append(f"{account.name}: acknowledged {account.state}, found {state}")
            elif state == "active" and account.used and account.used[1] >= int(time.time()) // 30 - 1:
                # Still inside the window, where only the stored step stops it being accepted.
                if wire.exchange(path, "VERIFY", user=account.name, code=account.used[0])[0] == "OK":
                    replayed.append(account.name)
        else:
            # Sent but never answered: the state before it or the one it leads to, either may be
            # on disk; carry on from what is.
            if state not in (account.state, NEXT_STATE.get(account.in_flight, account.state)):
                lost.append(f"{account.name}: {account.state} with {account.in_flight} in flight, found {state}")
            if state == "pending" and account.state == "none":
                account.secret = None  # a pending secret that never reached us: begin again
            if state in ("none", "revoked"):
                account.secret, account.used = None, None
            account.state, account.in_flight = state, None
    return lost, replayed


def integrity(state_directory):
    with sqlite3.connect(f"file:{state_directory}/totpd.sqlite?mode=ro", uri=True) as database:
        return database.execute("PRAGMA integrity_check").fetchone()[0]


def test_kill_9_loses_no_acknowledged_change(workdir, make_user):
    accounts = [Account(make_user()) for _ in range(CLIENTS * ACCOUNTS_PER_CLIENT)]
    chooser = random.Random(1)
    totals = {"cycles": 0, "acknowledged": 0, "lost": [], "replayed": [], "integrity": []}
    for cycle in range(CYCLES):
        daemon = Daemon(workdir, CONFIG)
        daemon.start()
        path = daemon.socket + ".root"
        lost, replayed = check_after_restart(path, accounts)
        totals["lost"] += lost
        totals["replayed"] += replayed
        loads = [Load(path, accounts[i::CLIENTS], seed=cycle * CLIENTS + i) for i in range(CLIENTS)]
        threads = [threading.Thread(target=load.run) for load in loads]
        for thread in threads:
            thread.start()
        time.sleep(chooser.uniform(0.05, 0.4))
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=15)
        for thread in threads:
            thread.join(timeout=30)
        daemon.log.close()
        totals["cycles"] += 1
        totals["acknowledged"] += sum(load.acknowledged for load in loads)
        if (verdict := integrity(daemon.state)) != "ok":
            totals["integrity"].append(f"cycle {cycle}: {verdict}")
    daemon = Daemon(workdir, CONFIG)
    daemon.start()
    try:
        lost, replayed = check_after_restart(daemon.socket + ".root", accounts)
    finally:
        daemon.stop()
    totals["lost"] += lost
    totals["replayed"] += replayed
    figures = {"check": "kill -9 during mixed load", "cycles": totals["cycles"],
               "operations_acknowledged": totals["acknowledged"], "lost": len(totals["lost"]),
               "used_steps_accepted_again": len(totals["replayed"]), "integrity_failures": len(totals["integrity"])}
    if os.environ.get("CRASH_FIGURES"):
        with open(os.environ["CRASH_FIGURES"], "a") as out:
            out.write(json.dumps(figures) + "\n")
    print(json.dumps(figures))
    assert totals["acknowledged"] > 10 * CYCLES, "the load hardly ran: the test would prove nothing"
    assert totals["lost"] == [] and totals["replayed"] == [] and totals["integrity"] == []
