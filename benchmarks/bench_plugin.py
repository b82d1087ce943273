"""What the plugin costs a suite: run with ``python benchmarks/bench_plugin.py``.

1. A 2,000-test plain suite (no marker or fixture of ours), with the plugin and
   with ``-p no:dtypegate``, run alternately, side by side (target ratio <= 1.05).
2. Collection of 5,000 ``model_dtype`` tests (1,667 functions x 3 precisions)
   against the same tests parametrized by hand with ``pytest.mark.parametrize``
   (target ratio <= 1.15).

Each figure is the median of several alternating runs in fresh subprocesses, so
machine noise hits both sides alike.  Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN = "def test_{i}():\n    assert {i} + 1 > {i}\n"
OURS = "def test_{i}(model_dtype):\n    pass\n"
BY_HAND = (
    "import pytest\n\n@pytest.fixture\ndef model_dtype_hand(request):\n    return request.param\n\n"
    "{body}"
)
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


def _time(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 5):
        raise SystemExit(f"benchmark run failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def _side_by_side(label: str, a: tuple[str, list[str], Path], b: tuple[str, list[str], Path],
                  repeats: int, target: float) -> float:
    times: dict[str, list[float]] = {a[0]: [], b[0]: []}
    _time(a[1], a[2])  # warm the file system and bytecode caches
    _time(b[1], b[2])
    for _ in range(repeats):
        for name, args, cwd in (a, b):
            times[name].append(_time(args, cwd))
    ma, mb = statistics.median(times[a[0]]), statistics.median(times[b[0]])
    ratio = ma / mb
    verdict = "ok" if ratio <= target else "MISSED"
    print(f"{label}")
    print(f"  {a[0]:<34} median {ma:7.3f} s   (runs: {', '.join(f'{t:.2f}' for t in times[a[0]])})")
    print(f"  {b[0]:<34} median {mb:7.3f} s   (runs: {', '.join(f'{t:.2f}' for t in times[b[0]])})")
    print(f"  ratio {ratio:.3f}  (target <= {target})  {verdict}")
    return ratio


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
            args.repeats, 1.05,
        )
        print()
        _side_by_side(
            "2. ~5,000 tests, collection only (--collect-only)",
            ("model_dtype (plugin parametrizes)", ["--collect-only"], ours),
            ("parametrized by hand, no plugin", ["--collect-only", "-p", "no:dtypegate"], hand),
            args.repeats, 1.15,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
