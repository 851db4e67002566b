"""Reads Qt resource bundles (.rcc, the binary format `rcc -binary` writes, versions 1–3): lists
and extracts their files. Used to take the recordings out of gcompris-qt-data."""

import struct
import zlib
from pathlib import Path

FLAG_COMPRESSED = 0x01
FLAG_DIRECTORY = 0x02
FLAG_ZSTD = 0x04


def _u16(b, o):
    return struct.unpack_from(">H", b, o)[0]


def _u32(b, o):
    return struct.unpack_from(">I", b, o)[0]


class Rcc:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.b = self.path.read_bytes()
        if self.b[:4] != b"qres":
            raise ValueError(f"{path}: not a Qt resource bundle")
        self.version = _u32(self.b, 4)
        self.tree, self.data, self.names = _u32(self.b, 8), _u32(self.b, 12), _u32(self.b, 16)
        self.entry = 14 if self.version == 1 else 22

    def _name(self, off):
        o = self.names + off
        n = _u16(self.b, o)
        return self.b[o + 6:o + 6 + 2 * n].decode("utf-16-be")

    def files(self):
        """Yields (path inside the bundle, flags, data offset)."""
        def walk(index, prefix):
            o = self.tree + index * self.entry
            name_off, flags = _u32(self.b, o), _u16(self.b, o + 4)
            name = "" if index == 0 else self._name(name_off)
            path = f"{prefix}/{name}" if name else prefix
            if flags & FLAG_DIRECTORY:
                count, first = _u32(self.b, o + 6), _u32(self.b, o + 10)
                for c in range(first, first + count):
                    yield from walk(c, path)
            else:
                yield path, flags, _u32(self.b, o + 10)
        yield from walk(0, "")

    def read(self, flags, data_off):
        o = self.data + data_off
        size = _u32(self.b, o)
        raw = self.b[o + 4:o + 4 + size]
        if flags & FLAG_COMPRESSED:
            return zlib.decompress(raw[4:])
        if flags & FLAG_ZSTD:
            raise ValueError(f"{self.path}: zstd-compressed entries are not supported")
        return raw
