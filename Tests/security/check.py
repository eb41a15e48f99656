"""make check-security: the long forms of the attack, fault and load checks, one line per check
with its figure; exits non-zero if any check fails. Expects the binaries `make build` and
`swift build --build-tests` leave, and runs as root (the system tests create users)."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
SYSTEM_ENV = {
    "TOTPD_BIN": str(ROOT / ".build/debug/totpd"),
    "TOTPCTL_BIN": str(ROOT / ".build/debug/totpctl"),
    "PAM_MODULE": str(ROOT / "build/pam_totpd.so"),
}
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "120"))
results = []


def report(name, passed, figure, seconds):
    results.append(passed)
    print(f"{'PASS' if passed else 'FAIL'}  {name:<44} {figure}  ({seconds:.0f} s)", flush=True)


def run(command, env=None):
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return done, time.monotonic() - started


SWIFT_FUZZERS = {"fuzz_frames", "fuzz_request", "fuzz_configuration"}


def fuzzers():
    done, seconds = run(["make", "--no-print-directory", "test-fuzz", f"FUZZ_SECONDS={FUZZ_SECONDS}"])
    lines = re.findall(r"^(fuzz_\w+): (\d+) inputs in (\d+) s, no finding$", done.stdout, re.M)
    for name, inputs, duration in lines:
        kind = "Swift, libFuzzer, ASan" if name in SWIFT_FUZZERS else "C, libFuzzer, ASan, UBSan"
        report(f"{name} ({kind})", True, f"{int(inputs):,} inputs in {duration} s, no finding",
               seconds / max(len(lines), 1))
    if done.returncode != 0 or len(lines) < 6:
        report("fuzzers", False, (done.stdout + done.stderr).strip().splitlines()[-1:] or "no output", seconds)


def swift_suite(name, suite, figure):
    done, seconds = run(["swift", "test", "--skip-build", "--filter", suite])
    passed = done.returncode == 0 and re.search(r"Test run with \d+ tests? .*passed", done.stdout + done.stderr)
    report(name, bool(passed), figure if passed else "failed: see swift test --filter " + suite, seconds)


def system_test(name, path, env=None, figures=None):
    done, seconds = run([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", path], {**SYSTEM_ENV, **(env or {})})
    passed = re.search(r"(\d+) passed", done.stdout)
    figure = (figures().format(passed=passed and passed.group(1)) if figures and done.returncode == 0
              else ("" if done.returncode == 0 else "failed: pytest " + path))
    report(name, done.returncode == 0, figure, seconds)
    if done.returncode != 0:
        print("\n".join("      " + line for line in (done.stdout + done.stderr).splitlines()[-30:]), flush=True)


def crash_figures(path):
    def read():
        record = json.loads(Path(path).read_text().splitlines()[-1])
        return (f"{record['cycles']} cycles, {record['operations_acknowledged']:,} operations acknowledged, "
                f"{record['lost']} lost, {record['used_steps_accepted_again']} used steps accepted again, "
                f"{record['integrity_failures']} integrity failures")
    return read


def exhaustion_figures(path):
    def read():
        record = json.loads(Path(path).read_text().splitlines()[-1])
        return (f"{record['seconds']} s: {record['connections_attempted']:,} connections "
                f"(peak {record['connections_held_peak']} held), {record['slow_writers']:,} slow writers, "
                f"{record['oversize_frames'] + record['garbage_frames']:,} bad frames, "
                f"{record['half_closes']:,} half-closes, {record['nonexistent_account_requests']:,} unknown accounts; "
                f"root {record['root_verifications']:,} right codes, p99 {record['root_p99_ms']} ms, "
                f"{record['failures']} failed; RSS {record['rss_baseline_mib']} -> {record['rss_peak_mib']} MiB")
    return read


def main():
    if os.geteuid() != 0:
        sys.exit("make check-security needs root: its system tests create users")
    fuzzers()
    swift_suite("replay race: 50 concurrent VERIFYs of one code", "ReplayRaceTests",
                "100 steps x 50 clients, exactly 1 accepted each (limits off; default limiter)")
    swift_suite("clock jumps (hours, days, years)", "ThrottleTests",
                "no used step accepted again; lockouts keep their length; hard lock holds")
    swift_suite("a day of guessing, default policy", "BruteForceTests",
                "20 codes checked in a day, then locked until unlock (arithmetic: at most 20)")
    system_test("guessing as a user and as root", "Tests/system/test_brute_force.py", figures=lambda:
                "both locked after 5 checked codes; the right code then unchecked; lockouts audited")
    system_test("second daemon on the same store", "Tests/system/test_single_instance.py", figures=lambda:
                "refused while the first serves; free after stop or kill -9")
    system_test("secret hygiene and core dumps", "Tests/system/test_secret_hygiene.py", figures=lambda:
                "no secret, code or recovery code outside the sealed store; no core, no backtrace")
    system_test("local attacker matrix", "Tests/system/test_attacker_matrix.py", figures=lambda:
                "{passed} attacks as an unprivileged user: every one refused, audited where the daemon sees it")
    system_test("full and read-only disks", "Tests/system/test_full_disk.py", figures=lambda:
                "past the reserve and read-only: fails closed, logged, nothing lost; space freed: serves again")
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as figures:
        system_test("exhaustion as unprivileged users", "Tests/system/test_exhaustion.py",
                    {"EXHAUSTION_SECONDS": os.environ.get("EXHAUSTION_SECONDS", "120"), "EXHAUSTION_FIGURES": figures.name},
                    exhaustion_figures(figures.name))
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as figures:
        system_test("kill -9 during mixed load", "Tests/system/test_crash_safety.py",
                    {"CRASH_CYCLES": os.environ.get("CRASH_CYCLES", "100"), "CRASH_FIGURES": figures.name},
                    crash_figures(figures.name))
    cycles = os.environ.get("ROTATION_KILL_CYCLES", "40")
    system_test("kill -9 during key rotations", "Tests/system/test_store_keys.py", {"ROTATION_KILL_CYCLES": cycles},
                figures=lambda: f"{cycles} rotations of 6000 secrets cut by kill -9: every sampled secret verified after each restart")
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
