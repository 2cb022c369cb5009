"""Shared helpers: the real `actmap` command (the Rust binary CI built, or
the one pip installed) and PNG decoding with Pillow."""

import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def actmap_command():
    """The CLI to compare against: $ACTMAP_BIN (the cargo-built binary),
    else the `actmap` command the package put on PATH."""
    exe = os.environ.get("ACTMAP_BIN")
    if exe:
        return [exe]
    found = shutil.which("actmap", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert found, "no actmap command: set ACTMAP_BIN or pip install ./python"
    return [found]


def run_cli(*args, cwd=None, check=True):
    p = subprocess.run(actmap_command() + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, f"actmap {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}"
    return p


def png_pixels(data):
    """RGBA pixels of PNG bytes or a PNG file, as a (H, W, 4) uint8 array."""
    if isinstance(data, (bytes, bytearray)):
        data = io.BytesIO(data)
    with Image.open(data) as im:
        return np.asarray(im.convert("RGBA"))


@pytest.fixture
def cli():
    return run_cli
