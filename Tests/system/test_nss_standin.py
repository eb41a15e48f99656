"""The NSS stand-in itself, through real programs under it (getent, id, and libc's getpwnam_r called
from a Python process): canonical names for any case, slow lookups, a directory that goes down and
comes back while one process runs, and nothing of it outside."""

import errno
import json
import subprocess
import sys
import time

import pytest

from nss_standin import NSSStandin

# Calls libc itself, since getent and id say "not found" (exit 2) for an error too. One JSON
# answer per request line, so a test can change the directory between two lookups of one process.
PROBE = r"""
import ctypes, json, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
class Passwd(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("passwd", ctypes.c_char_p), ("uid", ctypes.c_uint),
                ("gid", ctypes.c_uint), ("gecos", ctypes.c_char_p), ("dir", ctypes.c_char_p),
                ("shell", ctypes.c_char_p)]
class Group(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("passwd", ctypes.c_char_p), ("gid", ctypes.c_uint),
                ("members", ctypes.POINTER(ctypes.c_char_p))]
def lookup(function, key, kind):
    entry, result, buffer = kind(), ctypes.POINTER(kind)(), ctypes.create_string_buffer(1 << 16)
    status = function(key, ctypes.byref(entry), buffer, len(buffer), ctypes.byref(result))
    return [status, result.contents.name.decode() if result else None]
def grouplist(name, gid):
    groups, count = (ctypes.c_uint * 256)(), ctypes.c_int(256)
    found = libc.getgrouplist(name.encode(), gid, groups, ctypes.byref(count))
    return sorted(groups[:count.value]) if found >= 0 else None
def answer(words):
    if words[0] == "pwnam": return lookup(libc.getpwnam_r, words[1].encode(), Passwd)
    if words[0] == "pwuid": return lookup(libc.getpwuid_r, int(words[1]), Passwd)
    if words[0] == "grnam": return lookup(libc.getgrnam_r, words[1].encode(), Group)
    if words[0] == "grouplist": return grouplist(words[1], int(words[2]))
    if words[0] == "parallel":
        results = {}
        def one(name): results[name] = lookup(libc.getpwnam_r, name.encode(), Passwd)
        threads = [threading.Thread(target=one, args=(name,)) for name in words[1:]]
        started = time.monotonic()
        for thread in threads: thread.start()
        for thread in threads: thread.join()
        return {"seconds": time.monotonic() - started, "results": results}
for line in sys.stdin:
    print(json.dumps(answer(line.split())), flush=True)
"""


class Probe:
    def __init__(self, directory):
        self.process = directory.popen([sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)

    def ask(self, *words):
        self.process.stdin.write(" ".join(str(word) for word in words) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"probe exited with {self.process.wait()}"
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        assert self.process.wait(timeout=10) == 0


@pytest.fixture
def workdir(tmp_path):
    """Only the stand-in's files: these tests need no built binaries."""
    return tmp_path


@pytest.fixture
def directory(workdir):
    standin = NSSStandin(workdir)
    standin.add_user("alice")
    standin.add_user("slowcarol")
    return standin


@pytest.fixture
def probe(directory):
    running = Probe(directory)
    yield running
    running.close()


def getent(directory, *arguments):
    started = time.monotonic()
    result = directory.run(["getent"] + list(arguments), capture_output=True, text=True, timeout=30)
    result.elapsed = time.monotonic() - started
    return result


def test_names_match_in_any_case_and_come_back_canonical(directory, probe, make_user):
    uid = directory.add_user("Bob.Smith")
    admins = directory.add_group("TOTP-Admins", members=["ALICE", "bob.smith"])
    local = make_user()

    assert getent(directory, "passwd", "ALICE").stdout.startswith("alice:x:")
    assert getent(directory, "passwd", "bob.smith").stdout.startswith("Bob.Smith:x:")
    assert getent(directory, "group", "totp-admins").stdout.startswith("TOTP-Admins:x:")
    assert probe.ask("pwnam", "Alice") == [0, "alice"]
    assert probe.ask("pwuid", uid) == [0, "Bob.Smith"]
    assert probe.ask("grnam", "TOTP-ADMINS") == [0, "TOTP-Admins"]
    # getgrouplist asks the module's initgroups_dyn, which matches members in any case.
    alice = directory.users["alice"].split(":")
    assert probe.ask("grouplist", "alice", alice[3]) == sorted([int(alice[3]), admins])
    # Unknown names are "not found" (0 and no entry), as glibc says, not an error.
    assert probe.ask("pwnam", "nobody-here") == [0, None]
    # /etc/passwd still answers first: root, and users made with useradd, in their exact case.
    assert probe.ask("pwnam", "root") == [0, "root"]
    assert probe.ask("pwuid", 0) == [0, "root"]
    assert probe.ask("pwnam", local) == [0, local]
    assert "uid=" in directory.run(["id", "Alice"], capture_output=True, text=True).stdout


def test_lookups_of_slow_names_take_the_delay_and_run_concurrently(directory, probe):
    directory.set_delay(400, prefix="slow")

    slow = getent(directory, "passwd", "SlowCarol")
    assert slow.returncode == 0 and slow.stdout.startswith("slowcarol:")
    assert slow.elapsed >= 0.4
    assert getent(directory, "passwd", "alice").elapsed < 0.4
    # Four slow lookups from four threads overlap: nothing in the path serialises them.
    parallel = probe.ask("parallel", "slowcarol", "SLOWCAROL", "SlowCarol", "slowCarol")
    assert all(result == [0, "slowcarol"] for result in parallel["results"].values())
    assert 0.4 <= parallel["seconds"] < 1.2

    directory.set_delay(300)  # no prefix: every name the stand-in is asked about
    assert getent(directory, "passwd", "alice").elapsed >= 0.3
    assert getent(directory, "passwd", "root").elapsed < 0.3  # answered by /etc/passwd first


def test_the_directory_goes_down_and_comes_back_in_a_running_process(directory, probe, make_user):
    local = make_user()
    assert probe.ask("pwnam", "Alice") == [0, "alice"]

    directory.fail()
    assert probe.ask("pwnam", "Alice") == [errno.EIO, None]
    assert probe.ask("pwnam", "nobody-here") == [errno.EIO, None]  # cannot know it is unknown
    assert probe.ask("pwuid", directory.users["alice"].split(":")[2])[0] == errno.EIO
    assert probe.ask("grnam", "alice")[0] == errno.EIO
    assert probe.ask("pwnam", "root") == [0, "root"]
    assert probe.ask("pwnam", local) == [0, local]
    # getent cannot tell an error from "not found": it exits 2 for both.
    assert getent(directory, "passwd", "alice").returncode == 2
    assert getent(directory, "passwd", "nobody-here").returncode == 2

    directory.fail("tryagain")
    assert probe.ask("pwnam", "alice") == [errno.EAGAIN, None]

    directory.restore()
    assert probe.ask("pwnam", "Alice") == [0, "alice"]


def test_nothing_of_it_is_seen_outside(directory):
    before = open("/etc/nsswitch.conf").read()
    assert getent(directory, "passwd", "alice").returncode == 0

    assert subprocess.run(["getent", "passwd", "alice"], capture_output=True).returncode == 2
    assert open("/etc/nsswitch.conf").read() == before and "totpdtest" not in before
