"""The real-suite check: transformers' own model tests on Qwen3, plain, under simulation and under strict.

    python tests/realsuite/run.py [--cache DIR] [--workdir DIR] [--keep]

It shows the plugin on code this project did not write.  At run time it fetches
the transformers sdist of the installed version and ``parameterized`` (a
dependency of those tests) from the package index with pip, into ``--cache``
(default ``~/.cache/dtypegate-realsuite``; a second run reuses them, so it also
runs offline), extracts the sdist's ``tests/*.py`` (``test_modeling_common.py`` and
friends) into a temporary directory, adds what the sdist does not ship (two empty
mixins its imports name, and ``qwen3_modeling.py`` from this directory as
``tests/models/qwen3/test_modeling_qwen3.py``: which model to build, nothing
else) and runs pytest there four times:

1. plain: the plugin loaded, no option;
2. ``--dtypegate-simulate p100``: a Pascal GPU without bf16 GEMMs;
3. ``--dtypegate-simulate t4 --dtypegate-strict``: strict mode on a GPU that only
   emulates bf16;
4. the same, in a random order (pytest-randomly) on two xdist workers: strict must
   fail exactly the tests it failed in run 3.

Each run writes a JSON report, and its outcome counts must match
:data:`EXPECTED` for the pinned transformers version; the output must carry
the dtypegate header and section.  Nothing from transformers is copied into this
repository.  ``-k`` selects the tests of :data:`SELECT` (those whose name says
fp16/bf16/dtype/half/sdpa/attention/training/gradient, the ones precision
touches: 51 of the 160 tests) so that the four runs fit in about four minutes on
two cores.  Exit
status: 0 when every count matches, 1 otherwise (the differences are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARAMETERIZED = "0.9.0"
#: The tests of ModelTesterMixin a run selects (pytest -k).
SELECT = "fp16 or bf16 or dtype or half or sdpa or attention or training or gradient"
#: Outcome counts of each run, per transformers version.  Measured; a new pin needs new figures.
#: On transformers 5.24.0 the simulated P100 turns 8 bf16 tests into skips (transformers' own
#: is_torch_bf16_available_on_device meets the simulated error), and strict on a T4 fails the same
#: 8 (test_eager_matches_sdpa_inference_16..23_bf16_*: bf16 GEMMs the tests do not declare), blaming
#: none of the tests that merely asked transformers' cached capability checks.
EXPECTED: dict[str, dict[str, dict[str, int]]] = {
    "5.24.0": {
        "plain": {"passed": 41, "failed": 0, "skipped": 10, "error": 0},
        "simulate p100": {"passed": 33, "failed": 0, "skipped": 18, "error": 0},
        "strict t4": {"passed": 33, "failed": 8, "skipped": 10, "error": 0},
        "strict t4, random order, 2 workers": {"passed": 33, "failed": 8, "skipped": 10, "error": 0},
    },
}
RUNS: dict[str, tuple[str, ...]] = {
    "plain": ("-p", "no:randomly"),
    "simulate p100": ("-p", "no:randomly", "--dtypegate-simulate=p100"),
    "strict t4": ("-p", "no:randomly", "--dtypegate-simulate=t4", "--dtypegate-strict"),
    # the same verdicts whatever the order and the process a test runs in
    "strict t4, random order, 2 workers": (
        "-p", "randomly", "--randomly-seed=12345", "-n", "2", "--dtypegate-simulate=t4", "--dtypegate-strict",
    ),
}  # fmt: skip
#: What transformers' test modules import that its sdist leaves out: module path -> source.
STUBS: dict[str, str] = {
    "tests/__init__.py": "",
    "tests/models/__init__.py": "",
    "tests/models/qwen3/__init__.py": "",
    "tests/generation/__init__.py": "",
    "tests/generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
    "tests/exporters/__init__.py": "",
    "tests/exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
}


def _pip(*args: str, cache: Path) -> Path:
    """Download one distribution into ``cache`` (unless it is there) and return its file."""
    spec = args[-1]
    name = spec.split("==")[0]
    found = sorted(cache.glob(f"{name}-*")) + sorted(cache.glob(f"{name.replace('-', '_')}-*"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", str(cache)]
    subprocess.run([*cmd, *args], check=True)
    return _pip(*args, cache=cache)


def prepare(cache: Path, workdir: Path) -> Path:
    """The suite's directory: the sdist's tests, the stubs, our Qwen3 module, and parameterized on the path."""
    version = metadata.version("transformers")
    cache.mkdir(parents=True, exist_ok=True)
    sdist = _pip("--no-binary", ":all:", f"transformers=={version}", cache=cache)
    wheel = _pip("--only-binary", ":all:", f"parameterized=={PARAMETERIZED}", cache=cache)
    root = workdir / "suite"
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            # transformers-X/tests/<file>.py: the common test modules, nothing else
            if len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py") and member.isfile():
                target = root / "tests" / parts[2]
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
    for path, text in STUBS.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    shutil.copy(HERE / "qwen3_modeling.py", root / "tests/models/qwen3/test_modeling_qwen3.py")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(workdir / "site")
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # rootdir here, not in a parent's config
    return root


def _available(options: tuple[str, ...]) -> tuple[str, ...]:
    """``options`` without pytest-randomly's where it is not installed (the order is then the file's)."""
    import importlib.util

    if "randomly" not in options or importlib.util.find_spec("pytest_randomly") is not None:
        return options
    print("realsuite: pytest-randomly is not installed: the last run keeps the file order")
    out: list[str] = ["-p", "no:randomly"]
    skip = False
    for option in options:
        if skip or option.startswith("--randomly"):
            skip = False
            continue
        if option == "-p":
            skip = True  # the plugin name after it
            continue
        out.append(option)
    return tuple(out)


def run(root: Path, name: str, options: tuple[str, ...]) -> dict[str, Any]:
    """One pytest run in ``root``; its report document, with the output and the time it took."""
    report = root / f"report-{'-'.join(name.replace(',', '').split())}.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root.parent / "site"), env.get("PYTHONPATH")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [
        sys.executable, "-m", "pytest", "tests/models/qwen3", "-q", "-p", "no:cacheprovider",
        "-k", SELECT, f"--dtypegate-report={report}", *options,
    ]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    document: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    document["_output"] = done.stdout + done.stderr
    document["_seconds"] = seconds
    document["_status"] = done.returncode
    return document


def check(name: str, document: dict[str, Any], expected: dict[str, int] | None) -> list[str]:
    """What is wrong with one run: counts that differ, a missing header, section or report."""
    problems: list[str] = []
    output = document.get("_output", "")
    if "summary" not in document:
        return [f"{name}: no report was written; the output ends:\n{output[-3000:]}"]
    counts = {k: v for k, v in document["summary"].items() if k in ("passed", "failed", "skipped", "error")}
    if expected is not None and counts != expected:
        problems.append(f"{name}: expected {expected}, got {counts}")
    if not (output.startswith("dtypegate: ") or "\ndtypegate: " in output):
        problems.append(f"{name}: no dtypegate header line")
    if "- dtypegate -" not in output:
        problems.append(f"{name}: no dtypegate summary section")
    if len(document.get("tests", ())) != document["summary"].get("total"):
        problems.append(f"{name}: the report does not list every test")
    if document.get("capabilities") is None:
        problems.append(f"{name}: the report has no capabilities")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    default_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dtypegate-realsuite"
    ap.add_argument("--cache", type=Path, default=default_cache, help="where the downloads are kept")
    ap.add_argument("--workdir", type=Path, help="extract and run here (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)

    version = metadata.version("transformers")
    expected = EXPECTED.get(version)
    if expected is None:
        print(f"realsuite: no expected counts for transformers {version}; the runs are reported, not checked")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dtypegate-realsuite-"))
    problems: list[str] = []
    try:
        root = prepare(args.cache.resolve(), workdir)
        failed: dict[str, set[str]] = {}
        for name, options in RUNS.items():
            document = run(root, name, _available(options))
            failed[name] = {t["nodeid"] for t in document.get("tests", ()) if t["outcome"] == "failed"}
            counts = {k: document.get("summary", {}).get(k) for k in ("passed", "failed", "skipped", "error")}
            print(f"realsuite: {name}: {counts} in {document['_seconds']:.0f}s (transformers {version})")
            lines = document["_output"].splitlines()
            start = next((i for i, line in enumerate(lines) if "- dtypegate -" in line), None)
            if start is not None:
                print("\n".join("    " + line for line in lines[start : start + 12]))
            problems += check(name, document, expected.get(name) if expected else None)
        if failed["strict t4"] != failed["strict t4, random order, 2 workers"]:
            problems.append(
                "strict blamed other tests in random order on 2 workers: "
                f"{sorted(failed['strict t4'] ^ failed['strict t4, random order, 2 workers'])}"
            )
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            print(f"realsuite: kept {workdir}")
    for problem in problems:
        print(f"realsuite: FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
