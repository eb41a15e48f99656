"""Fixtures shared by the package tests: the package built twice from this tree."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def packages():
    """Two builds of this tree, the second a higher version: (first, second)."""
    return build("0.0.1+test1"), build("0.0.1+test2")


def build(version):
    done = subprocess.run([str(ROOT / "packaging/build-deb.sh")], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, DEB_VERSION=version))
    assert done.returncode == 0, done.stderr
    return ROOT / done.stdout.strip()
