"""A directory service (SSSD with Active Directory, LDAP) for the system tests, seen only by the
processes started through it: case-insensitive names that come back canonical, lookups that can be
made slow, and a directory that can go down and come back while a daemon runs.

How: the real glibc NSS path. Tests/nss/nss_totpdtest.c is an NSS module, and each process started
through `wrap` (or a Daemon given `daemon_options()`) runs in its own mount namespace, where an
nsswitch.conf that appends `totpdtest` to the system's passwd and group lines is bind-mounted over
/etc/nsswitch.conf; LD_LIBRARY_PATH lets glibc find libnss_totpdtest.so.2 in build/tests. That is
how SSSD is configured (`passwd: files systemd sss`): root and the users made with useradd still
come from /etc/passwd, and only names missing there reach the stand-in.

Not nss_wrapper (LD_PRELOAD=libnss_wrapper.so with NSS_WRAPPER_MODULE_SO_PATH), because on Debian's
1.1.12 it is not what a daemon meets in production:
- a name found nowhere makes getpwnam_r return ENOENT, where glibc returns 0 and a NULL result;
- it never reaches /etc/passwd: root and useradd users exist only if copied into its own file;
- it asks its files before the module (its manual says the module first);
- its getgrouplist walks getgrent and compares member names case-sensitively, where glibc asks
  the module's initgroups_dyn, so a member listed as "Alice" is lost for "alice".
It does pass a module's errors on (EIO for UNAVAIL), as glibc does.

What glibc does with a failing directory (verified): getpwnam_r, getpwuid_r, getgrnam_r and
getgrgid_r return the module's errno (EIO for UNAVAIL, EAGAIN for TRYAGAIN) for any name that
/etc/passwd or /etc/group does not have, known or not; getgrouplist still succeeds, with only the
groups /etc/group lists, since glibc drops a module's error there; getent and id exit 2, "not
found", for an error too.

Usage:
    directory = NSSStandin(workdir)
    directory.add_user("alice")                       # uid from 200000 up, own group
    directory.add_group("TOTP-Admins", members=["Alice"])
    daemon = Daemon(workdir, config, **directory.daemon_options())
    daemon.start()
    directory.set_delay(500, prefix="slow")           # lookups of slow* sleep 500 ms
    directory.fail()                                  # getpwnam_r of a directory name: EIO
    directory.restore()
Files are replaced atomically and the module rereads them at every lookup, so every change takes
effect at once in running processes.
"""

import errno
import grp
import os
import pwd
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
MODULE_TARGET = "build/tests/libnss_totpdtest.so.2"
FIRST_UID = 200000  # above Debian's useradd and system ranges, where SSSD maps AD ids too


def build_module():
    """Builds the module through the Makefile's rule (a no-op when up to date); returns its path."""
    subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPOSITORY), MODULE_TARGET], check=True)
    return REPOSITORY / MODULE_TARGET


def _replace(path, text):
    # Readers see the old file or the new one, never half of it.
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)


class NSSStandin:
    def __init__(self, workdir):
        self.root = Path(workdir) / "nss-standin"
        self.root.mkdir(exist_ok=True)
        self.root.chmod(0o755)
        self.module = build_module()
        self.passwd = self.root / "passwd"
        self.group = self.root / "group"
        self.nsswitch = self.root / "nsswitch.conf"
        self.fail_flag = self.root / "fail"
        self.delay_file = self.root / "delay"
        self.users = {}  # canonical name -> passwd line
        self.groups = {}  # canonical name -> [name, gid, members]
        self.own_groups = set()  # the groups add_user made
        self._write()
        self.set_delay(0)
        self.restore()
        _replace(self.nsswitch, self._nsswitch_text())

    @staticmethod
    def _nsswitch_text():
        lines = Path("/etc/nsswitch.conf").read_text().splitlines()
        databases = {line.split(":", 1)[0].strip() for line in lines if ":" in line and not line.startswith("#")}
        text = [line + " totpdtest" if line.split(":", 1)[0].strip() in ("passwd", "group") else line
                for line in lines]
        text += [f"{database}: files totpdtest" for database in ("passwd", "group") if database not in databases]
        return "\n".join(text) + "\n"

    def _free_id(self):
        # Free here and on the system, as a uid and as a gid, so a user's own group can share it.
        taken = {int(line.split(":")[2]) for line in self.users.values()}
        taken |= {gid for _, gid, _ in self.groups.values()}
        candidate = FIRST_UID
        while candidate in taken or _exists(pwd.getpwuid, candidate) or _exists(grp.getgrgid, candidate):
            candidate += 1
        return candidate

    def add_user(self, name, uid=None, gid=None, gecos="", home=None, shell="/bin/sh"):
        """Adds an account `name` (its canonical spelling); without `gid`, also a group of its own
        with the same name and id. Returns the uid."""
        uid = uid if uid is not None else self._free_id()
        if gid is None:
            gid = uid
            self.groups[name] = [name, gid, []]
            self.own_groups.add(name)
        self.users[name] = f"{name}:x:{uid}:{gid}:{gecos}:{home or '/home/' + name}:{shell}"
        self._write()
        return uid

    def add_users(self, names, first_uid):
        """Many accounts at once, uids from `first_uid` up, each with its own group: one write."""
        for offset, name in enumerate(names):
            self.users[name] = f"{name}:x:{first_uid + offset}:{first_uid + offset}::/home/{name}:/bin/sh"
            self.groups[name] = [name, first_uid + offset, []]
            self.own_groups.add(name)
        self._write()

    def remove_user(self, name):
        """The account disappears from the directory (deleted in AD), its own group with it."""
        del self.users[name]
        if name in self.own_groups:
            self.own_groups.discard(name)
            del self.groups[name]
        self._write()

    def add_group(self, name, gid=None, members=()):
        """Adds a group; `members` are names as the directory lists them (any case). Returns the gid."""
        gid = gid if gid is not None else self._free_id()
        self.groups[name] = [name, gid, list(members)]
        self._write()
        return gid

    def _write(self):
        _replace(self.passwd, "".join(line + "\n" for line in self.users.values()))
        _replace(self.group, "".join(f"{name}:x:{gid}:{','.join(members)}\n"
                                     for name, gid, members in self.groups.values()))

    def set_delay(self, milliseconds, prefix=""):
        """Each lookup of a name starting with `prefix` (any case; "" for all) sleeps this long;
        uid and gid lookups sleep when the entry they find has such a name."""
        _replace(self.delay_file, f"{int(milliseconds)} {prefix}\n")

    def fail(self, status="unavail", error=None):
        """Every lookup the stand-in answers fails: NSS_STATUS_UNAVAIL with EIO by default, or
        "tryagain" (EAGAIN); `error` overrides the errno that getpwnam_r then returns."""
        assert status in ("unavail", "tryagain")
        error = error if error is not None else (errno.EAGAIN if status == "tryagain" else errno.EIO)
        _replace(self.fail_flag, f"{status} {error}\n")

    def restore(self):
        """The directory answers again."""
        self.fail_flag.unlink(missing_ok=True)

    def environment(self):
        """The variables a process under the stand-in needs (add them to os.environ)."""
        library_path = ":".join(filter(None, [str(self.module.parent), os.environ.get("LD_LIBRARY_PATH")]))
        return {
            "LD_LIBRARY_PATH": library_path,
            "TOTPD_TEST_NSS_PASSWD": str(self.passwd),
            "TOTPD_TEST_NSS_GROUP": str(self.group),
            "TOTPD_TEST_NSS_DELAY_FILE": str(self.delay_file),
            "TOTPD_TEST_NSS_FAIL_FLAG": str(self.fail_flag),
        }

    def prefix(self):
        """Runs the command that follows in a private mount namespace with the stand-in's
        nsswitch.conf; both exec, so the started process's pid is the command's own."""
        return ["unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", 'mount --bind "$0" /etc/nsswitch.conf && exec "$@"', str(self.nsswitch)]

    def wrap(self, command):
        return self.prefix() + list(command)

    def daemon_options(self):
        """Keyword arguments for conftest.Daemon."""
        return {"environment": self.environment(), "prefix": self.prefix()}

    def run(self, command, **options):
        """subprocess.run of `command` under the stand-in."""
        environment = dict(os.environ, **self.environment(), **options.pop("env", {}))
        return subprocess.run(self.wrap(command), env=environment, **options)

    def popen(self, command, **options):
        environment = dict(os.environ, **self.environment(), **options.pop("env", {}))
        return subprocess.Popen(self.wrap(command), env=environment, **options)


def _exists(lookup, key):
    try:
        lookup(key)
        return True
    except KeyError:
        return False
