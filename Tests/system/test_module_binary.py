"""The shipped pam_totpd.so: only the two PAM entry points exported, only libpam and libc needed,
so loading it into sshd or sudo brings in nothing else (no Swift runtime)."""

import os
import re
import subprocess


def test_exports_only_the_pam_entry_points():
    symbols = subprocess.run(["nm", "-D", "--defined-only", os.environ["PAM_MODULE"]],
                             capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in symbols.splitlines() if line.split()[1] in "TDBRVW"}
    assert exported == {"pam_sm_authenticate", "pam_sm_setcred"}, exported


def test_needs_only_libpam_and_libc():
    dynamic = subprocess.run(["readelf", "-d", os.environ["PAM_MODULE"]], capture_output=True, text=True,
                             check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
    assert needed and needed <= {"libpam.so.0", "libc.so.6"}, needed


def test_is_hardened():
    dynamic = subprocess.run(["readelf", "-d", os.environ["PAM_MODULE"]], capture_output=True, text=True,
                             check=True).stdout
    assert "BIND_NOW" in dynamic
