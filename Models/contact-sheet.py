#!/usr/bin/env python3
"""Contact sheet of a style on held-out photos: one row per photo, input | output | target.

    python3 Models/contact-sheet.py STYLE PHOTOS_DIR OUT.jpg [N]

Makes the pairs with `tessera pairs make` (512 px), stylizes each input with `tessera stylize`,
and joins the first N (default 4) rows at 256 px high with Pillow (pip install pillow).
"""
import subprocess, sys, tempfile, pathlib
from PIL import Image

style, photos, out = sys.argv[1], sys.argv[2], sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 4
tessera = "./.build/release/tessera"
with tempfile.TemporaryDirectory() as work:
    work = pathlib.Path(work)
    subprocess.run([tessera, "pairs", "make", "--style", style, "--from", photos, "--out", str(work / "pairs"), "--size", "512"],
                   check=True, stdout=subprocess.DEVNULL)
    rows = []
    for source in sorted((work / "pairs" / "input").glob("*.png"))[:count]:
        result = work / f"{source.stem}-out.png"
        subprocess.run([tessera, "stylize", str(source), str(result), "--style", f"Models/{style}.safetensors", "--threads", "2"], check=True)
        cells = [Image.open(p).convert("RGB") for p in (source, result, work / "pairs" / "target" / source.name)]
        cells = [c.resize((c.width * 256 // c.height, 256), Image.LANCZOS) for c in cells]
        row = Image.new("RGB", (sum(c.width for c in cells) + 8 * (len(cells) - 1), 256), "white")
        x = 0
        for c in cells:
            row.paste(c, (x, 0))
            x += c.width + 8
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 8 * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 8
    sheet.save(out, quality=90)
