"""The CI gate at the scale of a big model suite: run with ``python benchmarks/bench_gate.py``.

The input is made the way CI makes it: a generated model suite of about 20,000
test items (transformers-like: one file per model, ``model_dtype`` tests in bf16,
fp16 and fp32, ``@requires_bf16`` tests, a hard-coded bf16 matmul, a few plain
failures) is run twice by pytest with ``--dtypegate-report``, under
``--dtypegate-simulate=p100`` and ``--dtypegate-simulate=v100`` (the latter with
``dtypegate_on_unsupported = downgrade``); the two real reports are then copied
to ``--legs`` leg labels (20 by default), alternating.  The suite and the
reports are kept in ``--workdir`` and reused while the parameters stay the same.

Then each command runs in a fresh process, several times, and the median wall
time, the median CPU time of that process (user + system: less sensitive to other
load on a shared machine), the peak memory (``ru_maxrss``) and the output's size
are printed per command.  ``--compare DIR`` runs the same commands against another
checkout of the package (``git archive HEAD | tar -x -C DIR``) side by side,
with the ratio.  The targets are printed next to the figures; nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 3.0
TARGET_MIB = 500
TARGET_OUTPUT = {"html": 10 * 1000 * 1000, "markdown": 1 << 20}

MODEL_FILE = """import pytest
import torch
from pytest_dtypegate import requires_bf16


class TestModel{index}:
{methods}
    @requires_bf16
    def test_bf16_kv_cache(self):
        pass

    @requires_bf16
    def test_bf16_generate(self):
        pass

    def test_tokenizer(self):
        pass

    def test_hardcoded_bf16_matmul(self):
        x = torch.ones(2, 2, dtype=torch.bfloat16)
        assert (x @ x).shape == (2, 2)
{extra}"""
METHOD = """
    def test_{name}(self, model_dtype):
        pass
"""
PLAIN_FAILURE = """
    def test_flaky_numerics(self, model_dtype):
        assert model_dtype != torch.float16, "logits differ by 3e-2 in fp16"
"""
METHODS = [
    "forward", "backward", "generate", "greedy_generate", "sample_generate", "beam_search", "attention_mask",
    "past_key_values", "hidden_states", "attentions", "loss", "resize_embeddings", "save_load", "torchscript",
]  # fmt: skip
WRAPPER = r"""
import json, os, resource, sys, time
argv = json.loads(sys.argv[1])
out = open(sys.argv[2], "w", encoding="utf-8")
sys.stdout = out
start = time.perf_counter()
from pytest_dtypegate.cli import main
code = main(argv)
elapsed = time.perf_counter() - start
out.flush()
usage = resource.getrusage(resource.RUSAGE_SELF)
stats = {"code": code, "seconds": elapsed, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss * 1024}
sys.__stderr__.write("BENCH " + json.dumps(stats) + "\n")
"""


def write_suite(root: Path, files: int) -> int:
    """A transformers-like suite: ``files`` model files of about 46 items each; returns the item count."""
    if root.exists():
        shutil.rmtree(root)
    (root / "tests" / "models").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    items = 0
    for index in range(files):
        methods = "".join(METHOD.format(name=name) for name in METHODS)
        extra = PLAIN_FAILURE if index % 25 == 0 else ""
        items += len(METHODS) * 3 + 4 + (3 if extra else 0)
        folder = root / "tests" / "models" / f"model{index:03d}"
        folder.mkdir()
        text = MODEL_FILE.format(index=index, methods=methods, extra=extra)
        (folder / f"test_modeling_model{index:03d}.py").write_text(text, encoding="utf-8")
    return items


def make_reports(workdir: Path, files: int, legs: int) -> Path:
    """Run the suite under p100 and v100 with the real writer; copy the reports to ``legs`` labels."""
    stamp = workdir / "parameters.json"
    wanted = {"files": files, "legs": legs, "writer": _writer_stamp()}
    reports = workdir / "reports"
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and reports.is_dir():
        return reports
    real = workdir / "real"
    suite_stamp = workdir / "suite.json"
    if not (suite_stamp.is_file() and json.loads(suite_stamp.read_text()) == {"files": files}):
        run_suite(workdir, files)
        suite_stamp.write_text(json.dumps({"files": files}))
    from pytest_dtypegate.ci import files as ci_files

    if reports.exists():
        shutil.rmtree(reports)
    reports.mkdir()
    originals = [json.loads((real / f"{p}.json").read_text(encoding="utf-8")) for p in ("p100", "v100")]
    for leg in range(legs):
        document = dict(originals[leg % 2])
        document["leg"] = f"{('p100', 'v100')[leg % 2]}-{leg + 1:02d}"
        ci_files.write_atomic(reports / f"leg{leg + 1:02d}.json", document)
    stamp.write_text(json.dumps(wanted))
    return reports


def _writer_stamp() -> str:
    """The writer's source, so that the copies are rewritten when the writer changes."""
    import hashlib

    return hashlib.sha256((ROOT / "pytest_dtypegate" / "ci" / "files.py").read_bytes()).hexdigest()[:16]


def run_suite(workdir: Path, files: int) -> None:
    """Write the suite and run it under p100 and v100 with ``--dtypegate-report``."""
    suite = workdir / "suite"
    items = write_suite(suite, files)
    real = workdir / "real"
    real.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("GITHUB_ACTIONS", None)
    for profile, extra in (("p100", []), ("v100", ["-o", "dtypegate_on_unsupported=downgrade"])):
        start = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            f"--dtypegate-simulate={profile}",
            f"--dtypegate-report={real / (profile + '.json')}",
            *extra,
        ]
        proc = subprocess.run(command, cwd=suite, capture_output=True, text=True, env=env, check=False)
        last = proc.stdout.strip().splitlines()[-1:] or [proc.stderr[-500:]]
        print(f"  pytest {profile}: {items} items in {time.perf_counter() - start:.1f} s: {last[0]}")
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])


def run_command(argv: list[str], source: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    env.pop("GITHUB_ACTIONS", None)
    # run outside the checkout: "python -c" puts the working directory first on sys.path
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, json.dumps(argv), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,
        check=False,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("BENCH ")]
    if not lines:
        raise SystemExit(f"{argv} crashed:\n{proc.stderr[-3000:]}")
    stats: dict[str, float] = json.loads(lines[-1][len("BENCH ") :])
    return stats


def measure(argv: list[str], source: Path, tmp: Path, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = tmp / "stdout.txt"
        stats = run_command(argv, source, out)
        target = argv[argv.index("-o") + 1] if "-o" in argv else str(out)
        stats["size"] = Path(target).stat().st_size
        runs.append(stats)
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak": max(r["peak"] for r in runs),
        "size": runs[-1]["size"],
        "code": runs[-1]["code"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=435, help="model files in the suite (about 46 items each)")
    parser.add_argument("--legs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (the median time is shown)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dtypegate-bench-gate")
    parser.add_argument("--compare", type=Path, default=None, help="another checkout to run side by side")
    parser.add_argument("--gzip", action="store_true", help="also time the same reports gzip-compressed")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"input: {args.legs} legs x about {args.files * 46} tests, in {args.workdir}")
    reports = make_reports(args.workdir, args.files, args.legs)
    size = sum(p.stat().st_size for p in reports.glob("*.json"))
    print(f"  {len(list(reports.glob('*.json')))} reports, {size / 1e6:.0f} MB")
    tmp = args.workdir / "out"
    tmp.mkdir(exist_ok=True)
    baseline = tmp / "baseline.json"
    run_command(["matrix", str(reports), "--format", "json", "-o", str(baseline)], ROOT, tmp / "b.txt")
    commands = {
        "matrix --format json": ["matrix", str(reports), "--format", "json", "-o", str(tmp / "m.json")],
        "matrix --format html": ["matrix", str(reports), "--format", "html", "-o", str(tmp / "m.html")],
        "matrix --format markdown": ["matrix", str(reports), "--format", "markdown", "-o", str(tmp / "m.md")],
        "gate --require fp32,bf16": ["gate", str(reports), "--require", "fp32,bf16", "--config", os.devnull],
        "gate --baseline --format github": [
            "gate",
            str(reports),
            "--require",
            "fp32,bf16",
            "--baseline",
            str(baseline),
            "--format",
            "github",
            "--config",
            os.devnull,
        ],
    }
    if args.gzip:
        zipped = args.workdir / "reports-gz"
        if not zipped.is_dir():
            import gzip

            zipped.mkdir()
            for path in reports.glob("*.json"):
                (zipped / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        commands["gate (gzip reports)"] = ["gate", str(zipped), "--require", "fp32,bf16", "--config", os.devnull]
    sources = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    header = f"{'command':<34}" + "".join(
        f"{name + ' s':>11}{'cpu s':>7}{'MiB':>7}{'output':>10}" for name, _ in sources
    )
    print(header + ("   ratio" if args.compare else "") + "   targets")
    for label, argv in commands.items():
        row = f"{label:<34}"
        times = []
        for name, source in sources:
            if name == "compare" and ("github" in argv or "gzip" in label):
                row += f"{'n/a':>11}{'':>7}{'':>7}{'':>10}"
                continue
            stats = measure(argv, source, tmp, args.repeat)
            times.append(stats["seconds"])
            row += (
                f"{stats['seconds']:>11.2f}{stats['cpu']:>7.2f}{stats['peak'] / (1 << 20):>7.0f}"
                f"{stats['size'] / 1e6:>8.1f}MB"
            )
        if args.compare:
            row += f"{times[1] / times[0]:>7.1f}x" if len(times) == 2 else f"{'':>8}"
        fmt = argv[argv.index("--format") + 1] if "--format" in argv else ""
        limit = f", output <= {TARGET_OUTPUT[fmt] / 1e6:.1f} MB" if fmt in TARGET_OUTPUT else ""
        print(row + f"   <= {TARGET_SECONDS:g} s, <= {TARGET_MIB} MiB{limit}")
    try:
        import msgspec  # noqa: F401

        print("msgspec: installed (the fast reader)")
    except ImportError:
        print("msgspec: not installed (the standard library reader)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
