#!/usr/bin/env python3
"""Daemon throughput: N 256x256 images dropped at once into inbox/identity of a daemon running on
a fresh temporary root. Prints images/s from the first job's start to the last job's finish (the
jobs table's own timestamps), which measures the daemon's overhead per file (decode, queue,
encode, fsync, archive), not the model.

Run by hand after `swift build -c release`; needs the `vips` command (Debian: libvips-tools).
  Benchmarks/daemon_throughput.py [--count 200] [--workers 2] [--threads N] [--source photos|noise]
"photos": centre crops of ../shared/data/train-photos (JPEG in, JPEG out); "noise": random RGB
PNGs (incompressible, the worst case for the PNG codec).
"""
import argparse, json, os, random, shutil, signal, struct, subprocess, sys, tempfile, time, zlib

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tessera = os.path.join(repo, ".build", "release", "tessera")
photos = os.path.join(repo, "..", "shared", "data", "train-photos")


def noise_png(path, size, seed):
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rng.getrandbits(8) for _ in range(size * 3)) for _ in range(size))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_images(folder, count, source):
    names = sorted(n for n in os.listdir(photos) if n.lower().endswith(".jpg")) if source == "photos" else []
    for i in range(count):
        if source == "noise":
            noise_png(os.path.join(folder, f"n{i:04d}.png"), 256, i)
        else:
            out = os.path.join(folder, f"p{i:04d}.jpg")
            subprocess.run(["vips", "thumbnail", os.path.join(photos, names[i % len(names)]), out, "256",
                            "--height", "256", "--crop", "centre"], check=True)
            if i >= len(names):  # a second pass over the photos: mirrored, so the content differs
                subprocess.run(["vips", "flip", out, out + ".jpg", "horizontal"], check=True)
                os.replace(out + ".jpg", out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--source", choices=["photos", "noise"], default="photos")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="tessera-throughput-")
    try:
        staging = os.path.join(root, "staging")
        os.makedirs(staging)
        make_images(staging, args.count, args.source)
        env = dict(os.environ, TESSERA_ROOT=os.path.join(root, "var"), TESSERA_MODELS=os.path.join(repo, "Models"),
                   TESSERA_STABLE_SECONDS="0.5", TESSERA_WORKERS=str(args.workers), TESSERA_THREADS=str(args.threads))
        with open(os.path.join(root, "daemon.log"), "w") as log:
            daemon = subprocess.Popen([tessera, "daemon"] + (["--allow-root"] if os.geteuid() == 0 else []), env=env, stderr=log, cwd=root)
        inbox = os.path.join(root, "var", "inbox", "identity")
        while not os.path.isdir(inbox):
            time.sleep(0.05)
        for name in os.listdir(staging):
            os.rename(os.path.join(staging, name), os.path.join(inbox, name))
        deadline = time.time() + 300
        while time.time() < deadline:
            status = json.loads(subprocess.run([tessera, "status", "--json"], env=env, cwd=root, capture_output=True, text=True).stdout)
            if sum(status["counts"].get(s, 0) for s in ("done", "failed")) >= args.count:
                break
            time.sleep(0.2)
        jobs = json.loads(subprocess.run([tessera, "jobs", "--json", "--limit", str(args.count * 2)], env=env, cwd=root,
                                         capture_output=True, text=True).stdout)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        done = [j for j in jobs if j["status"] == "done"]
        span = max(j["finished_at"] for j in done) - min(j["started_at"] for j in done)
        print(f"{len(done)} of {args.count} {args.source} images 256x256, identity style, workers {args.workers}, "
              f"threads {args.threads}: {span:.2f} s, {len(done) / span:.1f} images/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
