"""Man pages render cleanly and stay true to the commands; completions cover every subcommand."""

import os
import re
import subprocess
from pathlib import Path

MANUALS = Path(__file__).resolve().parents[2] / "docs/man"


def subcommands():
    usage = subprocess.run([os.environ["TOTPCTL_BIN"], "--help"], capture_output=True, text=True, check=True).stdout
    section = usage.split("SUBCOMMANDS:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z][a-z-]*)", section, re.MULTILINE)


def test_man_pages_render_without_warnings():
    for page in ("totpctl.1", "totpd.8", "pam_totpd.8"):
        result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MANUALS / page)],
                                capture_output=True, text=True, env=dict(os.environ, LC_ALL="C.UTF-8"))
        assert result.returncode == 0 and result.stderr == "", (page, result.stderr)


def test_totpctl_page_and_completions_cover_every_subcommand():
    names = subcommands()
    assert {"enroll", "confirm", "status", "list", "revoke", "unlock", "log", "recovery-codes", "resync"} <= set(names)
    page = (MANUALS / "totpctl.1").read_text()
    for shell in ("bash", "zsh"):
        script = subprocess.run([os.environ["TOTPCTL_BIN"], "--generate-completion-script", shell],
                                capture_output=True, text=True, check=True).stdout
        for name in names:
            assert name in script, (shell, name)
    for name in names:
        if name == "help":
            continue
        # roff writes a hyphen as "\-", so recovery-codes appears as recovery\-codes.
        spelled = re.escape(name).replace("\\-", r"\\?-")
        assert re.search(r"^\.B[IR]? " + spelled + r"\b", page, re.MULTILINE), name


def test_every_subcommand_help_shows_an_example():
    for name in subcommands():
        if name == "help":
            continue
        text = subprocess.run([os.environ["TOTPCTL_BIN"], name, "--help"], capture_output=True, text=True,
                              check=True).stdout
        before_usage = text.split("USAGE:", 1)[0]
        assert re.search(rf"^\s*(Example: )?(\S+ \| )?totpctl {re.escape(name)}\b", before_usage, re.MULTILINE), \
            (name, text)
