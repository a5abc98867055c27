#!/usr/bin/env python3
"""Daemon throughput: N square images dropped at once into inbox/STYLE of one or more daemons on a
fresh temporary root. Prints images/s and MP/s from the first job's start to the last job's
finish (the jobs table's own timestamps). With the identity style it measures the daemon's
overhead per file (decode, queue, encode, fsync, archive), not the model.

Run by hand after `swift build -c release`; needs the `vips` command (Debian: libvips-tools).
  Benchmarks/daemon_throughput.py [--count 200] [--size 256] [--style identity] [--workers 2]
      [--threads N] [--source photos|noise] [--daemons 1] [--store sqlite|postgres]
"photos": centre crops of ../shared/data/train-photos (JPEG in, JPEG out); "noise": random RGB
PNGs (incompressible, the worst case for the PNG codec). `--store postgres` (implied by
`--daemons` above 1) runs a PostgreSQL server of its own (Debian's postgresql package, initdb in
a temporary folder, as the postgres user when root; default settings, fsync on) and the daemons
share it and the folder tree, as daemons on several hosts do.
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


def start_postgres(root):
    """A server in `root`/pg on a free loopback port; returns (store URL, stop function)."""
    import glob, pwd, socket
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
    folder = os.path.join(root, "pg")
    os.makedirs(folder)
    as_user = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chmod(root, 0o755)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *command: subprocess.run(as_user + list(command), check=True, capture_output=True, cwd=folder)
    run(f"{binaries}/initdb", "-D", f"{folder}/data", "-U", "tessera", "--auth=trust", "-E", "UTF8")
    run(f"{binaries}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/server.log", "-w", "start", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 " + os.environ.get("BENCH_PG_OPTIONS", ""))
    run(f"{binaries}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "tessera", "tessera")
    def stop():
        run(f"{binaries}/pg_ctl", "-D", f"{folder}/data", "-m", "fast", "-w", "stop")
        if os.environ.get("BENCH_PG_LOG"):  # the server's log kept (with BENCH_PG_OPTIONS="-c log_statement=all": every statement)
            shutil.copy(f"{folder}/server.log", os.environ["BENCH_PG_LOG"])
    return f"postgres://tessera@127.0.0.1:{port}/tessera?sslmode=disable", stop


def make_images(folder, count, source, size):
    names = sorted(n for n in os.listdir(photos) if n.lower().endswith(".jpg")) if source == "photos" else []
    for i in range(count):
        if source == "noise":
            noise_png(os.path.join(folder, f"n{i:04d}.png"), size, i)
        else:
            out = os.path.join(folder, f"p{i:04d}.jpg")
            subprocess.run(["vips", "thumbnail", os.path.join(photos, names[i % len(names)]), out, str(size),
                            "--height", str(size), "--crop", "centre"], check=True)
            if i >= len(names):  # a second pass over the photos: mirrored, so the content differs
                subprocess.run(["vips", "flip", out, out + ".jpg", "horizontal"], check=True)
                os.replace(out + ".jpg", out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--style", default="identity")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--source", choices=["photos", "noise"], default="photos")
    parser.add_argument("--daemons", type=int, default=1)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    store = args.store or ("postgres" if args.daemons > 1 else "sqlite")
    root = tempfile.mkdtemp(prefix="tessera-throughput-")
    stop_postgres = None
    daemons = []
    try:
        staging = os.path.join(root, "staging")
        os.makedirs(staging)
        make_images(staging, args.count, args.source, args.size)
        env = dict(os.environ, TESSERA_ROOT=os.path.join(root, "var"), TESSERA_MODELS=os.path.join(repo, "Models"),
                   TESSERA_STABLE_SECONDS="0.5", TESSERA_WORKERS=str(args.workers), TESSERA_THREADS=str(args.threads))
        if store == "postgres":
            env["TESSERA_STORE"], stop_postgres = start_postgres(root)
        for d in range(args.daemons):
            with open(os.path.join(root, f"daemon-{d}.log"), "w") as log:
                daemons.append(subprocess.Popen([tessera, "daemon"] + (["--allow-root"] if os.geteuid() == 0 else []), env=env,
                                                stderr=log, cwd=root))
        inbox = os.path.join(root, "var", "inbox", args.style)
        while not os.path.isdir(inbox):
            time.sleep(0.05)
        time.sleep(1)  # every daemon watching
        for name in os.listdir(staging):
            os.rename(os.path.join(staging, name), os.path.join(inbox, name))
        deadline = time.time() + 900
        settled = lambda folder: len(os.listdir(folder)) if os.path.isdir(folder) else 0
        # Watching the folders, not asking `tessera status`: a status process a second would cost
        # a PostgreSQL store more than the jobs do.
        while time.time() < deadline:
            if settled(os.path.join(root, "var", "archive", args.style)) + settled(os.path.join(root, "var", "failed", args.style)) >= args.count:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        jobs = json.loads(subprocess.run([tessera, "jobs", "--json", "--limit", str(args.count * 2)], env=env, cwd=root,
                                         capture_output=True, text=True).stdout)
        done = [j for j in jobs if j["status"] == "done"]
        span = max(j["finished_at"] for j in done) - min(j["started_at"] for j in done)
        megapixels = len(done) * args.size * args.size / 1e6
        print(f"{len(done)} of {args.count} {args.source} images {args.size}x{args.size}, style {args.style}, {args.daemons} daemon(s) on {store}, "
              f"workers {args.workers}, threads {args.threads}: {span:.2f} s, {len(done) / span:.1f} images/s, {megapixels / span:.2f} MP/s")
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait()
        if stop_postgres:
            stop_postgres()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
