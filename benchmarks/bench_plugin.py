"""What the plugin costs a suite: run with ``python benchmarks/bench_plugin.py``.

1. A 2,000-test plain suite (no marker or fixture of ours), with the plugin and
   with ``-p no:dtypegate``, run alternately, side by side (target ratio <= 1.05).
2. Collection of 5,000 ``model_dtype`` tests (1,667 functions x 3 precisions)
   against the same tests parametrized by hand with ``pytest.mark.parametrize``
   (target ratio <= 1.15).

Each figure is the median of several alternating runs in fresh subprocesses, so
machine noise hits both sides alike; both wall time and the CPU time the child
used (user + system, less sensitive to other load on a shared machine) are
shown, with a ratio for each.  Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN = "def test_{i}():\n    assert {i} + 1 > {i}\n"
OURS = "def test_{i}(model_dtype):\n    pass\n"
BY_HAND = "import pytest\n\n@pytest.fixture\ndef model_dtype_hand(request):\n    return request.param\n\n{body}"
HAND_TEST = (
    '@pytest.mark.parametrize("model_dtype_hand", ["bf16", "fp16", "fp32"], ids=["bf16", "fp16", "fp32"], '
    "indirect=True)\ndef test_{i}(model_dtype_hand):\n    pass\n"
)


def _write_suite(root: Path, files: int, per_file: int, template: str, wrapper: str | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    n = 0
    for f in range(files):
        body = ""
        for _ in range(per_file):
            body += template.format(i=n) + "\n"
            n += 1
        text = wrapper.format(body=body) if wrapper else body
        (root / f"test_{f:03d}.py").write_text(text)


def _time(args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one pytest run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 5):
        raise SystemExit(f"benchmark run failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def _side_by_side(
    label: str, a: tuple[str, list[str], Path], b: tuple[str, list[str], Path], repeats: int, target: float
) -> float:
    wall: dict[str, list[float]] = {a[0]: [], b[0]: []}
    cpu: dict[str, list[float]] = {a[0]: [], b[0]: []}
    _time(a[1], a[2])  # warm the file system and bytecode caches
    _time(b[1], b[2])
    for _ in range(repeats):
        for name, args, cwd in (a, b):
            w, c = _time(args, cwd)
            wall[name].append(w)
            cpu[name].append(c)
    print(label)
    for name in (a[0], b[0]):
        print(
            f"  {name:<34} wall median {statistics.median(wall[name]):7.3f} s   "
            f"cpu median {statistics.median(cpu[name]):7.3f} s   "
            f"(wall runs: {', '.join(f'{t:.2f}' for t in wall[name])})"
        )
    wall_ratio = statistics.median(wall[a[0]]) / statistics.median(wall[b[0]])
    cpu_ratio = statistics.median(cpu[a[0]]) / statistics.median(cpu[b[0]])
    verdict = "ok" if cpu_ratio <= target else "MISSED"
    print(f"  ratio: wall {wall_ratio:.3f}, cpu {cpu_ratio:.3f}  (target <= {target}, judged on cpu)  {verdict}")
    return cpu_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dtypegate-bench-") as tmp:
        base = Path(tmp)
        plain = base / "plain"
        _write_suite(plain, files=40, per_file=50, template=PLAIN)
        ours = base / "ours"
        _write_suite(ours, files=34, per_file=49, template=OURS)  # 1,666 functions x 3 = 4,998 tests
        hand = base / "hand"
        _write_suite(hand, files=34, per_file=49, template=HAND_TEST, wrapper=BY_HAND)
        print(f"python {sys.version.split()[0]}, {args.repeats} alternating runs each\n")
        _side_by_side(
            "1. 2,000 plain tests, run",
            ("with the plugin", [], plain),
            ("-p no:dtypegate", ["-p", "no:dtypegate"], plain),
            args.repeats,
            1.05,
        )
        print()
        _side_by_side(
            "2. ~5,000 tests, collection only (--collect-only)",
            ("model_dtype (plugin parametrizes)", ["--collect-only"], ours),
            ("parametrized by hand, no plugin", ["--collect-only", "-p", "no:dtypegate"], hand),
            args.repeats,
            1.15,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
