"""Bytes a run writes to disk and keeps, and its wall time: the CPU demo by default.

Runs ``reawaken run`` (any arguments after ``--``) in a child process and reads the child's
``wchar`` from ``/proc/PID/io`` (every byte it wrote through ``write``, before the page cache:
the store, the checkpoints and the few bytes of its output), then the size of what stays on
disk (the store and its checkpoint folder). Run:

    python benchmarks/bench_disk.py                        # the CPU demo
    python benchmarks/bench_disk.py -- --set checkpoint.every=doc   # the old per-block policy
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys
from reawaken.cli import main
status = main(sys.argv[1:])
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
print(f"WCHAR {io['wchar']}", file=sys.stderr)
sys.exit(status)
"""


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def main(arguments: list[str]) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-disk-"))
    command = [sys.executable, "-c", CHILD, "run", "--out", str(out), "--name", "demo", "--quiet"]
    started = time.perf_counter()
    child = subprocess.run([*command, *arguments], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if child.returncode:
        sys.exit(child.stderr[-2000:])
    written = int(child.stderr.split("WCHAR ")[-1].split()[0])
    store, checkpoints = folder_bytes(out / "demo.zarr"), folder_bytes(out / "demo.ckpt")
    steps = len(list((out / "demo.ckpt").glob("step-*"))) if (out / "demo.ckpt").exists() else 0
    print(child.stdout.splitlines()[0])
    print(f"wall time        {wall:8.1f} s (including the start of Python and torch)")
    print(f"bytes written    {written / 1e6:8.1f} MB")
    print(
        f"bytes kept       {(store + checkpoints) / 1e6:8.1f} MB "
        f"(store {store / 1e6:.1f} MB, {steps} checkpoint(s) {checkpoints / 1e6:.1f} MB)"
    )
    print(child.stdout.splitlines()[-1])


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else [])
