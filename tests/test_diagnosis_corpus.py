"""The corpus of real error texts (tests/corpus/dtype_errors.toml): well-formed, split by the hash rule, none of it
cited by the catalogue, and the diagnosis's scores on it (benchmarks/score_corpus.py prints them)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_dtypegate.diagnosis import catalogue

ROOT = Path(__file__).resolve().parent.parent


def _scoring() -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_corpus", ROOT / "benchmarks" / "score_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("score_corpus", module)
    spec.loader.exec_module(module)
    return module


SCORING = _scoring()
RECORDS: list[dict[str, Any]] = SCORING.load()


def test_the_corpus_is_large_enough_and_has_look_alikes() -> None:
    negatives = [r for r in RECORDS if r["category"] == "none"]
    assert len(RECORDS) >= 200
    assert len(negatives) >= 50
    assert {r["split"] for r in RECORDS} == set(SCORING.SPLITS)
    assert {r["category"] for r in RECORDS} == {"unsupported", "mismatch", "nonfinite", "none"}


def test_each_text_is_quoted_with_its_source_and_no_host_names() -> None:
    for r in RECORDS:
        assert r["source"].strip(), r["text"]
        assert "://" not in r["source"], r["source"]
        if r["category"] == "none":
            assert "precision" not in r and "other" not in r, r["text"]
        if "other" in r:
            assert r["category"] == "mismatch" and "precision" in r, r["text"]


def test_no_corpus_text_is_a_catalogue_example() -> None:
    cited = {e.text for entry in catalogue() for e in entry.examples}
    assert not [r["text"] for r in RECORDS if r["text"] in cited]
    assert len({r["text"] for r in RECORDS}) == len(RECORDS), "a text is listed twice"


def test_the_split_follows_the_hash_of_the_text() -> None:
    # the later parts were gathered after the held-out part had been scored: not split by the hash
    assert all(r["split"] in (*SCORING.UNHASHED, SCORING.split_of(r["text"])) for r in RECORDS)
    fresh = [r for r in RECORDS if r["split"] == "fresh"]
    assert len(fresh) >= 50 and sum(r["category"] == "none" for r in fresh) >= 20


@pytest.mark.parametrize("split", ["dev", "heldout", "fresh", "unseen"])
def test_no_look_alike_failure_is_called_a_dtype_error(split: str) -> None:
    score = SCORING.score(RECORDS, split)
    assert score.false_positives == 0, [r["text"] for r, _ in score.misses if r["category"] == "none"]


def test_the_dev_part_is_read_right() -> None:
    score = SCORING.score(RECORDS, "dev")
    assert score.rate >= 95.0, [(r["text"][:80], c) for r, c in score.misses]


@pytest.mark.parametrize("split", ["heldout", "fresh"])
def test_the_parts_not_tuned_on_stay_at_the_issues_bar(split: str) -> None:
    # Measured once before any change they informed: held-out 93.4% (57/61), fresh 87.2% (34/39); both were
    # read after that, so they now guard against regressions rather than measure generalization.
    score = SCORING.score(RECORDS, split)
    assert score.rate >= 95.0, [(r["text"][:80], c) for r, c in score.misses]


def test_the_unseen_part_is_there_and_large_enough() -> None:
    unseen = [r for r in RECORDS if r["split"] == "unseen"]
    assert sum(r["category"] != "none" for r in unseen) >= 60
    assert sum(r["category"] == "none" for r in unseen) >= 30


# The later parts, each gathered after the reader had been changed, scored once when it was added, then read and
# tuned on: what each scored once is its history, and what it is read right now guards against regressions.
# (split, dtype errors, look-alikes, dtype errors read right now)
LATER_PARTS = [
    # History: the unseen part was gathered after the reader was final (pytest_dtypegate/diagnosis at c9201ae),
    # labelled before the reader ran on it, written here whole and scored once (benchmarks/score_corpus.py --split
    # unseen): 58/91 dtype errors right (63.7%; catalogue 16, general reader 42), 2/53 false positives (the string
    # 'torch.bfloat16' passed where a dtype belongs; xformers refusing CPU tensors), mismatch 'other' right 11/11;
    # every one of the 33 misses was an answer of nothing. That was its honest measure. Its misses were then read and
    # the reader extended to the families they stand for (cuBLAS statuses, collectives, conversions, device refusals,
    # loss scaling, range checks, ONNX Runtime and Triton mismatches, run-together combinations, candidate operators),
    # so like dev it is tuning material now and guards against regressions; a fresh untouched part measures the
    # reader as changed. Left unread: an issue title asking whether the Ascend 910A supports bf16 (a question, not a
    # refusal).
    # (one look-alike, xformers refusing CPU tensors and float32 at once, was relabelled a refusal of fp32 when the
    # written rules and three blind labellers read it so)
    ("unseen", 92, 52, 90),
    # History: the final part was gathered after the reader was final again (pytest_dtypegate/diagnosis as at commit
    # 6c12df1, last changed in 575b27a), labelled before the reader ran on it, written here whole and scored once
    # (benchmarks/score_corpus.py --split final): 45/64 dtype errors right (70.3%; catalogue 31, general reader 19 of
    # the 50 answered), 1/39 false positive, mismatch 'other' right 9/9. That was its honest measure.
    # Then, in one step before it was tuned on, the labelling rule was made the one a reader of the text alone can
    # follow (the corpus header says how). Eight of this part's labels had come from the thread rather than the
    # text: four texts that name no type became look-alikes (cuDNN's ARCH_MISMATCH, two ONNX Runtime
    # NOT_IMPLEMENTED, a Paddle ACL error), two NaN reports lost the fp16 their thread gave them, the TensorRT
    # "hardware without native FP16 support" look-alike became the fp16 refusal its twin already was, and
    # _scaled_mm's refusal became fp8's. Elsewhere three multinomial NaN texts lost their fp16, and fp16 is now the
    # low side of an fp16/bf16 mismatch (five of the six such labels already said so; the reader agrees since).
    # Under those labels, with the reader ordering fp16/bf16 sides the same way, this part was 50/61. Its misses
    # were then read and the reader extended (misspelt "not currenlty supported", "un-supported", bare "Invalid scalar
    # type" and "Data type not supported", "does not have FP16 support", TORCH_CHECKs on scalar_type(), "only supports
    # ..., but got X", a zero grad scale, transformers' DebugUnderflowOverflow), so it is tuning material now; the
    # sealed part measures the reader as changed. Left unread: a FlashAttention refusal whose fp32 is named only in the
    # warning printed before it.
    # (SageAttention's "SM80 kernel is not available ... compute capability 8.0 or higher" was relabelled from a
    # look-alike to a refusal when the fifth sealed part labelled its SM89 twin so under the written rules)
    ("final", 62, 41, 61),
    # History: the sealed part was gathered by someone who never saw the reader's code or output, while the reader
    # was being changed, and kept out of sight until the reader was frozen at commit 795e09c; labelled from the text
    # alone, written here whole and scored once (benchmarks/score_corpus.py --split sealed): 76/84 dtype errors
    # right (90.5%; catalogue 53, general reader 24 of the 77 answered), 4/45 false positives (three of them
    # FlashAttention's "only supports Ampere GPUs or newer", which the gatherer's brief had left out of scope though
    # issue #11 names such checks; one an xformers operator list refused for a bias's alignment and a capability,
    # no dtype among the reasons), mismatch 'other' right 24/24. That was its honest measure, below the issue's bar.
    # Then two of the FlashAttention texts were relabelled to the issue's scope and the third, identical to a
    # catalogue example, dropped (as was a _scaled_mm refusal identical to another example, scored right); the misses
    # were read and the reader extended (operands in their `x.dtype:` slots, old torch's "expected Double tensor (got
    # Float tensor)", "min loss scale reached", a loss scale set below 1 after overflows, "does not has fast native
    # fp16", "not supported on CPUType for Half", an operator list with no dtype among its reasons, fairseq's "| INFO
    # |" records), so it is tuning material since. Left unread: a
    # fairseq message pasted out of order inside its source line, a cuBLAS status whose arguments were pasted after a
    # blank line, and (since the loss-scale-below-1 rule was withdrawn on the second sealed part) a title saying
    # training fails after "overflow detected, setting loss scale to: 0.000122".
    ("sealed", 85, 42, 82),
    # History: the second sealed part was gathered by a second gatherer blind to the reader, while the reader was
    # being changed on the first sealed part's misses, and scored once against the reader frozen at commit e940395:
    # 64/80 dtype errors right (80.0%; catalogue 45, general reader 24 of the 69 answered), 2/47 false positives
    # (fairseq's routine "overflow detected, setting loss scale to: 0.015625" steps, which the reader had just been
    # taught to read as scaling collapsing; an Ascend error about complex32), mismatch 'other' right 22/22. Below the
    # issue's bar. A blind second labeller, given only the texts and the written rules
    # (tests/corpus/labelling-rules.md), agreed with the gatherer on 117 of the 120 texts both labelled (97.5%; 7 it
    # called unclear); the three differences were conventions the rules settle (a mismatch naming one side; ROCm's
    # fnuz fp8) and were relabelled. On the 117 agreed texts the frozen reader scored 64/77 (83.1%), 2/40 false
    # positives: the gap was the reader's, not the labels'. Its misses were then read and the reader extended
    # (restrictions in one precision, "any tensor type other than", NaN reported near a low precision, values a low
    # precision cannot hold, the web UI's NaN check as its forks word it, DT_COMPLEX32; the loss-scale-below-1 rule
    # removed), so it is tuning material since. Left unread: an xformers operator list refusing the CPU and fp32 at
    # once (the gatherers disagree on it), and einops calling bf16 a non-floating type.
    ("sealed2", 80, 47, 78),
    # History: the third sealed part was gathered by a third gatherer blind to the reader, by the written rules
    # (tests/corpus/labelling-rules.md), while the reader was being changed on the second sealed part's misses, and
    # scored once against the reader frozen at commit d72de1b: 66/80 dtype errors right (82.5%; catalogue 36,
    # general reader 34 of the 70 answered), 0/47 false positives, mismatch 'other' right 13/13. Below the issue's
    # bar. A blind second labeller agreed on all 127 labels, so the consensus score is the same 82.5%; half the
    # misses were people's prose (comments and titles describing NaNs in float16) rather than text software printed.
    # Its misses were then read and the reader extended (ONNX Runtime's "bound to different types", a compiler's
    # "could not convert ... from Vectorized<float> to Vectorized<c10::BFloat16>", a check naming one type as the
    # written rules read it (a mismatch of that side), NaN next to CJK text, the nearest of several overflow phrases,
    # "npu not support float64", markdown's backticks, an xformers candidate refusing its dtype beside the device),
    # so it is tuning material since. Left unread: a NaN comment whose float16 stands a sentence away, and Lightning's
    # "16-mixed" precision name.
    ("sealed3", 80, 47, 78),
    # History: the fourth sealed part was gathered by a fourth gatherer blind to the reader, by the written rules,
    # with its scope set beforehand to text software printed (what the plugin reads), while the reader was being
    # changed on the third sealed part's misses, and scored once against the reader frozen at commit a8fbb2f: 80/90
    # dtype errors right (88.9%; catalogue 28, general reader 54 of the 82 answered), 0/46 false positives, mismatch
    # 'other' right 26/27. Below the issue's bar. A blind second labeller agreed on all 136 labels. Its misses were
    # then read and the reader extended (vLLM's "Minimum capability: 80", "requires A100 or H100 GPUs", safetensors'
    # F8_E4M3, markdown emphasis around a pasted message, "input type at::Half and output type float" refused together,
    # "Promotion for Float8 Types" as a kind rather than an operand, "grid has float"), so it is tuning material since.
    ("sealed4", 90, 46, 90),
    # History: the fifth sealed part was gathered by a fifth gatherer blind to the reader, by the written rules,
    # printed text only, while the reader was being changed on the fourth sealed part's misses, and scored once
    # against the reader frozen at commit d5582f4: 70/85 dtype errors right (82.4%; catalogue 29, general reader 42
    # of the 71 answered), 1/49 false positive (a "Detected mismatch between collectives on ranks" whose fingerprints
    # list BFloat16 and Float tensors, though what differs is their shapes), mismatch 'other' right 29/29. Below the
    # issue's bar. A blind second labeller agreed on 129 of the 132 texts both labelled (97.7%); on the texts they
    # agree on the frozen reader scored 70/82 (85.4%), 1/47 false positive. Its misses were then read and the reader
    # extended (a low precision "only compatible with GPU export" or "supported only when exporting on GPU", hipDataType
    # conversions, "GPUs with compute capability 8.9" and "SM89 kernel is not available", "support begins with sm90",
    # "must have the same type as", collectives that differ in dtypes or only in shapes, "expect A to be float16 or
    # bfloat16", group_norm's "expect input to have scalar type of"), so it is tuning material since. Left unread:
    # ROIAlign's scalarType() assert and an xformers operator refused for capability alone (the two labellers
    # disagree on both), cutlass_fp8's "requires CUDA 12.0+ with SM90", Transformer Engine's fp8 shape rule.
    ("sealed5", 85, 49, 80),
]


@pytest.mark.parametrize(("split", "errors", "negatives", "right"), LATER_PARTS)
def test_each_later_part_is_read_right_since_it_was_tuned_on(
    split: str, errors: int, negatives: int, right: int
) -> None:
    score = SCORING.score(RECORDS, split)
    assert (score.errors, score.negatives) == (errors, negatives)
    assert score.right >= right, [(r["text"][:80], c) for r, c in score.misses]
    assert score.false_positives == 0, [r["text"][:80] for r, _ in score.misses if r["category"] == "none"]
    assert score.other_right == score.mismatches


def test_the_sixth_sealed_part_measures_the_reader_as_it_is() -> None:
    # The sixth sealed part was gathered by a sixth gatherer blind to the reader, by the written rules, printed text
    # only, while the reader was being changed on the fifth sealed part's misses, and scored once against the reader
    # frozen at commit bd4b880, the reader as it stands: 76/77 dtype errors right (98.7%; catalogue 60, general
    # reader 16 of the 76 answered), 0/40 false positives, mismatch 'other' right 14/14; a blind second labeller
    # agreed on all 117 labels. Its mix leans on the catalogue's families and holds a single overflow text. It has not been tuned on: a change to the reader is
    # measured on it first (and on a new part gathered the same way), then it becomes tuning material.
    score = SCORING.score(RECORDS, "sealed6")
    assert (score.errors, score.negatives) == (77, 40)
    assert score.right >= 76, [(r["text"][:80], c) for r, c in score.misses]
    assert score.false_positives == 0, [r["text"][:80] for r, _ in score.misses if r["category"] == "none"]
    assert score.other_right == score.mismatches


def test_a_second_labelling_is_compared_text_by_text(tmp_path: Path) -> None:
    # a second labeller who agrees on the first two texts of a split, disagrees on the third and finds the fourth
    # unclear: the consensus score reads only the two agreed texts
    part = [r for r in RECORDS if r["split"] == "sealed6"][:4]
    rows = []
    for n, r in enumerate(part, 1):
        label = {"id": n, "category": r["category"]}
        if n <= 2:
            label.update({k: r[k] for k in ("precision", "other") if k in r})
        elif n == 3:
            label["category"] = "mismatch" if r["category"] != "mismatch" else "none"
        else:
            label["category"] = "unclear"
        rows.append("[[label]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in label.items()))
    labels = tmp_path / "labels2.toml"
    labels.write_text("\n".join(rows), encoding="utf-8")
    a = SCORING.agreement(part, "sealed6", labels)
    assert (a.texts, a.unclear, a.agreed, len(a.disagreements)) == (4, 1, 2, 1)
    assert a.errors + a.negatives == 2 and a.right <= a.errors
    assert SCORING.main(["--split", "sealed6", "--labels", str(labels)]) == 0


def test_a_second_labelling_needs_its_split(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        SCORING.main(["--labels", "labels2.toml"])
    assert stopped.value.code == 2
    assert "--labels needs --split: the split the second labeller labelled" in capsys.readouterr().err
