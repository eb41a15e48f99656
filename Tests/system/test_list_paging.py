"""totpctl list over many pages (docs/PROTOCOL.md, LIST): the daemon answers a page per request;
totpctl asks until a page is empty and prints one table, or one JSON array, in byte order of
name. The accounts come from a directory (the NSS stand-in) and are enrolled by --import-oath."""

import json
import re

import pytest

from conftest import Daemon, Tools
from nss_standin import FIRST_UID, NSSStandin

SECRET = "3132333435363738393031323334353637383930"


@pytest.fixture
def directory(workdir):
    return NSSStandin(workdir)


def test_list_pages_through_every_account(workdir, directory):
    # About 280 short records fit in one answer: three pages and an empty one.
    # Beyond the BMP, an emoji is one character but two UTF-16 units: the table pads it as one.
    names = [f"user{index:04d}" for index in range(700)] + ["Zed", "émile", "emoji-😀", "long-" + "x" * 200]
    for index, name in enumerate(names):
        directory.add_user(name, uid=FIRST_UID + index)
    users_file = workdir / "users.oath"
    users_file.write_text("".join(f"HOTP/T30 {name} - {SECRET}\n" for name in names))
    users_file.chmod(0o600)
    daemon = Daemon(workdir, **directory.daemon_options())
    imported = directory.run(daemon.command() + ["--import-oath", str(users_file)], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    daemon.start()
    try:
        tools = Tools(workdir, daemon)
        in_order = sorted(names, key=lambda name: name.encode())
        assert in_order[0] == "Zed" and in_order[-1] == "émile"

        listed = tools.totpctl("list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert [row["user"] for row in rows] == in_order
        assert {row["state"] for row in rows} == {"active"}
        assert len(re.findall(r"operation=list", daemon.logged())) >= 4

        table = tools.totpctl("list")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split() == ["USER", "STATE", "LAST", "SUCCESS", "FAILURES"]
        assert [line.split()[0] for line in lines[1:]] == in_order
        # One set of column widths for all pages.
        assert {line.index(" active ") for line in lines[1:]} == {lines[0].index(" STATE ")}
    finally:
        daemon.stop()
        daemon.log.close()
