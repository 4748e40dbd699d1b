"""File sizes as clients type them: `250 MB`, `1.2GB`, `3 GiB`, `800k`."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
MAX_FILE_SIZE = 1024**5  # a petabyte: anything larger is a typo


def parse_file_size(text: str) -> int:
    """Bytes in a human size (decimal units for k/MB/GB, binary for KiB/MiB/GiB); ValueError if it is not one."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"'{text.strip()}' is not a file size")
    number, unit = match.groups()
    unit = "b" if unit.lower() in ("byte", "bytes") else unit.lower()
    if unit not in _UNITS:
        raise ValueError(f"'{text.strip()}' has an unknown unit")
    size = round(float(number.replace(",", ".")) * _UNITS[unit])
    if size > MAX_FILE_SIZE:
        raise ValueError(f"'{text.strip()}' is larger than any file we handle")
    return size


def format_file_size(size: int) -> str:
    """A short human form of a byte count, in decimal units."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
