"""What classifying an error text costs: adversarial text, the normal corpus, and how the cost grows with length.

    python benchmarks/bench_classify.py [--mb 1] [--explain]

Three measurements:

1. Adversarial text, about ``--mb`` MB of each kind: long runs of word characters, colons, dots, quotes and
   brackets; type-name-like tokens (``c10::BFloat16``, ``torch.float16``, MLIR shapes); floods of the general
   reader's phrases; line prefixes; near-misses of every catalogue entry (each example text cut short or
   with its type name replaced, repeated); and floods of the constructs the reader's later families read
   (candidate operators and their reasons, run-together type combinations, mangled type names, NaN printouts,
   cuBLAS statuses, Chinese text).  Each kind is classified as one message (``classify`` reads its
   first and last characters, see ``normalize.MAX_MESSAGE``) and as the same megabyte split into 4 KiB
   messages; time per MB is reported, and the slowest input.
2. The normal corpus (tests/corpus/dtype_errors.toml and every catalogue example): time per MB and per message.
3. Growth: the classification pipeline without the bound on what is read (the raw catalogue, its tolerant
   pass, the general reader) on 64 KiB, 256 KiB and 1 MiB of the worst adversarial kinds; a ratio near 1
   (time per character at 1 MiB over time per character at 64 KiB) means linear.

``--explain`` also times ``dtypegate explain -`` end to end in a subprocess on each adversarial megabyte.
Prints figures; asserts no time (speed is measured here, not tested).
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pytest_dtypegate.diagnosis import catalogue, classify, general  # noqa: E402
from pytest_dtypegate.diagnosis import classifier as _c  # noqa: E402
from pytest_dtypegate.diagnosis.normalize import blocks  # noqa: E402

MB = 1 << 20


def _fill(unit: str, size: int) -> str:
    return (unit * (size // max(1, len(unit)) + 1))[:size]


def _near_misses() -> str:
    """Every catalogue example cut short, or with its type names replaced by non-type words: the variants that
    classify as nothing (a variant that still matches would end the search early, which is not adversarial)."""
    parts = []
    for entry in catalogue():
        for example in entry.examples:
            text = example.text
            for variant in (
                text[: max(1, len(text) * 3 // 4)],
                text[: max(1, len(text) // 2)],
                text.replace("BFloat16", "Bogus16").replace("Half", "Hulf").replace("float", "flout"),
            ):
                if classify(variant) is None:
                    parts.append(variant)
    return " ".join(parts) + " "


def adversarial(size: int) -> dict[str, str]:
    """About ``size`` characters of each adversarial kind."""
    return {
        "word run": "RuntimeError: x: " + _fill("A", size),
        "colons": _fill(":", size),
        "dots": _fill("a.", size),
        "quotes": _fill("'\"`", size),
        "brackets": _fill("([{<", size),
        "spaces": "E" + _fill(" ", size),
        "newlines": _fill("E   x\n", size),
        "type names": _fill("c10::BFloat16 torch.float16 1x3x9xf16 v2bf16 DT_BFLOAT16 ", size),
        "dotted type": _fill("torch.cuda.HalfTensor.", size),
        "phrase flood": _fill("bf16 is not supported; only supports fp16 and bf16 must have the same dtype ", size),
        "mismatch flood": _fill("expected m1 and m2 to have the same dtype, but got: c10::BFloat16 != ", size),
        "list flood": _fill("only supports fp16, bf16, fp32, fp64, ", size),
        "prefix flood": _fill("[rank0]: 2024-01-01T00:00:00Z ERROR [x] ", size),
        "surrogates": _fill("\udcff\x1b[31m\x00Half not implemented for ", size),
        "near misses": _fill(_near_misses(), size),
        # the constructs of the families added for the unseen part: candidate operators and their reasons,
        # run-together combinations, mangled wrappers, NaN printouts and range checks, cuBLAS statuses, Chinese
        "candidates": _fill("`op` is not supported because: dtype=torch.float32 (supported: {torch.float16}) ", size),
        "combinations": _fill("types: 5120BFloat16FloatFloatFloatFloat 10944HalfHalfHalfFloat ", size),
        "mangled": _fill("Actual: (N11onnxruntime17PrimitiveDataTypeINS_9MLFloat16EEE) , expected: ", size),
        "nan flood": _fill("tensor([[nan, nan, inf]], dtype=torch.float16) yields nan vs. 65504 <= kMaxFloat16 ", size),
        "blas flood": _fill(
            "CUBLAS_STATUS_NOT_SUPPORTED abcType 14 the requested functionality is not supported ", size
        ),
        "cjk flood": _fill("不支持类型没有实现bfloat16格式意外的输入数据类型", size),
    }


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _each(texts: list[str]) -> None:
    for text in texts:
        classify(text)


def _unbounded(text: str) -> None:
    """The pipeline classify() runs on one text, without the bound on what it reads."""
    _c._catalogue_raw(text)
    _c._catalogue_tolerant(text)
    general.read(blocks(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="megabytes of each adversarial kind")
    parser.add_argument("--explain", action="store_true", help="also time `dtypegate explain -` on each kind")
    args = parser.parse_args(argv)
    size = int(args.mb * MB)
    catalogue()
    general.reader()

    print(f"1. adversarial text, {size / MB:.2f} MB of each kind")
    print(f"   {'kind':<16} {'one message':>12} {'4 KiB messages':>15}   (seconds per MB)")
    total_time = 0.0
    total_mb = 0.0
    slowest = ("", 0.0)
    for name, text in adversarial(size).items():
        whole = _time(functools.partial(classify, text)) / (len(text) / MB)
        chunks = [text[i : i + 4096] for i in range(0, len(text), 4096)]
        split = _time(functools.partial(_each, chunks)) / (len(text) / MB)
        total_time += split * len(text) / MB
        total_mb += len(text) / MB
        slowest = max(slowest, (name, split), key=lambda x: x[1])
        print(f"   {name:<16} {whole:>12.3f} {split:>15.3f}")
    print(f"   all kinds in 4 KiB messages: {total_time / total_mb:.3f} s per MB; slowest: {slowest[0]}")

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from score_corpus import load

    texts = [r["text"] for r in load()] + [e.text for entry in catalogue() for e in entry.examples]
    corpus_mb = sum(len(t) for t in texts) / MB
    spent = _time(lambda: [classify(t) for t in texts])
    print(f"2. normal corpus: {len(texts)} messages, {corpus_mb * 1024:.0f} KiB")
    print(f"   {spent / corpus_mb:.3f} s per MB, {1000 * spent / len(texts):.2f} ms per message")

    print("3. growth without the bound on what is read (time per character, relative to 64 KiB)")
    kinds = adversarial(MB)
    for name in (
        "word run",
        "dots",
        "type names",
        "phrase flood",
        "near misses",
        "newlines",
        "candidates",
        "combinations",
    ):
        base = None
        figures = []
        for n in (64 * 1024, 256 * 1024, MB):
            text = kinds[name][:n]
            per_char = _time(functools.partial(_unbounded, text)) / n
            base = base or per_char
            figures.append(f"{n // 1024:>5} KiB {per_char / base:5.2f}")
        print(f"   {name:<14} " + "   ".join(figures))

    if args.explain:
        print("4. dtypegate explain - (subprocess, seconds per adversarial kind)")
        for name, text in adversarial(size).items():
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pytest_dtypegate.cli", "explain", "-"],
                input=text.encode("utf-8", errors="surrogatepass"),
                capture_output=True,
                check=False,
                cwd=ROOT,
            )
            print(f"   {name:<16} {time.perf_counter() - start:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
