"""A page in Debian's headless Chromium: its DOM after the page's scripts ran, and a
screenshot as pixels (a small PNG reader: 8-bit RGB or RGBA, what Chromium writes)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    # No network: every request would go to a closed local port.
    "--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000",
)  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    return path


def dom(page: Path) -> str:
    """The serialised DOM once the page loaded."""
    done = subprocess.run(
        [chromium(), *_FLAGS, "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def body_attributes(page: Path) -> dict[str, str]:
    found = re.search(r"<body([^>]*)>", dom(page))
    assert found, "no <body> in the DOM"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', found.group(1)))


def screenshot(page: Path, out: Path, width: int = 900, height: int = 2400) -> None:
    subprocess.run(
        [chromium(), *_FLAGS, f"--window-size={width},{height}", f"--screenshot={out}",
         page.resolve().as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert out.exists(), "Chromium wrote no screenshot"


def pixels(png: Path) -> list[tuple[int, int, int]]:
    """Every pixel's (r, g, b) of an 8-bit RGB/RGBA PNG, row by row."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}"
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * step
    out: list[tuple[int, int, int]] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (
                    line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 255
        out += [tuple(line[i : i + 3]) for i in range(0, stride, step)]  # type: ignore[misc]
        previous = line
    return out
