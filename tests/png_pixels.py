"""Read the pixels of a PNG screenshot with the standard library (zlib), for browser tests.

Handles what a browser writes: 8-bit RGB or RGBA, not interlaced, every row
filter. A few dozen lines keep the tests free of an imaging dependency.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import attrs

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # colour type → bytes per pixel (8-bit RGB, RGBA)


@attrs.frozen
class Image:
    """Decoded pixels: ``rows[y]`` holds ``width * channels`` bytes."""

    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The RGB colour at (x, y)."""
        offset = x * self.channels
        r, g, b = self.rows[y][offset : offset + 3]
        return r, g, b

    def pixels(self) -> Iterator[tuple[int, int, tuple[int, int, int]]]:
        """Every (x, y, rgb)."""
        for y in range(self.height):
            row = self.rows[y]
            for x in range(self.width):
                offset = x * self.channels
                yield x, y, (row[offset], row[offset + 1], row[offset + 2])


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = len(_SIGNATURE)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        yield kind, data[position + 8 : position + 8 + length]
        position += 12 + length


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(data: bytes) -> Image:
    """Decode a PNG file's bytes.

    :raises ValueError: not a PNG, or a kind this reader does not handle.
    """
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    header = b""
    compressed = bytearray()
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}"
        )
    bpp = _CHANNELS[colour]
    stride = width * bpp
    raw = zlib.decompress(bytes(compressed))
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                row[i] = (row[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + (left + previous[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                up_left = previous[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + _paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG row filter {kind}")
        rows.append(bytes(row))
        previous = row
    return Image(width, height, bpp, tuple(rows))
