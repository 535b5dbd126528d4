"""Image size limits: read a PNG's or JPEG's size from its header, without decoding a pixel.

A 300 kB PNG can hold a 10000 x 10000 image that decodes to 300 MB; checking
the header first lets the node, ``adu-depth infer`` and the bag tools refuse
such a frame before any memory is spent on it. Sizes are written H x W.
"""

from __future__ import annotations

import struct

DEFAULT_MAX_INPUT_PIXELS = 12_000_000  # 12 MP (e.g. 4000 x 3000); 0 = no limit
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4/C8/CC are other segments
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI, EOI: no length field


class ImageTooLargeError(ValueError):
    """An image has more pixels than the configured limit."""


def png_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a PNG's IHDR chunk, or None if ``data`` does not start like a PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a JPEG's first start-of-frame segment, or None if there is none before the scan."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_SOF:
            if length < 7 or i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return height, width
        if marker == 0xDA or length < 2:  # start of scan before any frame header, or a corrupt length
            return None
        i += 2 + length
    return None


def compressed_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) of a PNG or JPEG from its header; None when neither header can be read."""
    head = bytes(data[: 1 << 18])  # headers come first (EXIF / ICC blocks before the frame header included)
    return png_size(head) or jpeg_size(head)


def check_pixels(
    height: int, width: int, max_pixels: int, what: str = "image", error: type[Exception] = ImageTooLargeError
) -> None:
    """Raise ``error`` when height x width exceeds ``max_pixels`` (0 = no limit)."""
    if max_pixels and height * width > max_pixels:
        raise error(
            f"{what} is {height}x{width} (HxW) = {height * width} pixels, above the limit of {max_pixels} "
            "(max_input_pixels); downscale it at the source or raise the limit"
        )


def blank_png(height: int, width: int) -> bytes:
    """A valid all-black RGB PNG of height x width, built row by row (never holding the pixels): a few kB
    that decode to height x width x 3 bytes (what tests and the soak benchmark throw at the size limit)."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    comp, row = zlib.compressobj(9), bytes(1 + 3 * width)  # filter byte 0 + black pixels
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
