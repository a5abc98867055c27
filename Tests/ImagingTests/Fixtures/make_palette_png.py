# Writes palette.png: a 5x3 8-bit palette PNG with a tRNS chunk (one fully transparent entry),
# the one PNG flavour libvips cannot write itself. Run: python3 make_palette_png.py
import struct, zlib

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
alpha = [255, 255, 128, 0]
rows = [[0, 1, 2, 3, 0], [1, 2, 3, 0, 1], [2, 3, 0, 1, 2]]
raw = b"".join(b"\x00" + bytes(r) for r in rows)
png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 3, 8, 3, 0, 0, 0))
       + chunk(b"PLTE", b"".join(bytes(c) for c in palette))
       + chunk(b"tRNS", bytes(alpha))
       + chunk(b"IDAT", zlib.compress(raw))
       + chunk(b"IEND", b""))
open("palette.png", "wb").write(png)
