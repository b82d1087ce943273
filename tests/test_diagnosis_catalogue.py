"""The catalogue reader: a well-formed catalogue directory, every message for a malformed one, lazy loading,
and the names the errors module keeps for compatibility."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_dtypegate import diagnosis, errors
from pytest_dtypegate.diagnosis import CatalogueError, Example, catalogue, read_catalogue
from pytest_dtypegate.diagnosis.loader import CATALOGUE_DIR
from pytest_dtypegate.facts import Category

INDEX = """\
files = ["mini.toml"]

[fragments]
NAME = '\\w{1,40}'
"""

MINI = """\
[[entry]]
id = "mini-entry"
category = "unsupported"
pattern = 'no kernel for (?P<dtype>{NAME})'
roles = ["dtype"]
need_precision = true
summary = "no {precision} kernel for {dtype}"
advice = "use fp32"
source = "this test"

[[entry.example]]
text = "RuntimeError: no kernel for BFloat16"
seen = "written for this test"
precision = "bf16"
"""


def write(directory: Path, index: str = INDEX, mini: str = MINI, **others: str) -> Path:
    (directory / "index.toml").write_text(index, encoding="utf-8")
    (directory / "mini.toml").write_text(mini, encoding="utf-8")
    for name, text in others.items():
        (directory / f"{name}.toml").write_text(text, encoding="utf-8")
    return directory


def changed(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_a_well_formed_catalogue_is_read(tmp_path: Path) -> None:
    (entry,) = read_catalogue(write(tmp_path))
    assert entry.id == "mini-entry"
    assert entry.category is Category.UNSUPPORTED
    assert entry.pattern.pattern == r"no kernel for (?P<dtype>\w{1,40})"
    assert (entry.roles, entry.need_precision, entry.precision, entry.accept, entry.scan, entry.op) == (
        ("dtype",),
        True,
        None,
        None,
        None,
        None,
    )
    assert entry.examples == (Example("RuntimeError: no kernel for BFloat16", "written for this test", "bf16"),)
    assert entry.file == "mini.toml"


def test_defaults_lists_and_named_sets(tmp_path: Path) -> None:
    mini = "[defaults]\nadvice = 'cast it'\n\n" + changed(MINI, 'advice = "use fp32"\n', 'accept = "low"\n')
    mini = changed(
        mini,
        "pattern = 'no kernel for (?P<dtype>{NAME})'",
        "pattern = [\n    'no kernel ',\n    'for (?P<dtype>{NAME})',\n]",
    )
    (entry,) = read_catalogue(write(tmp_path, mini=mini))
    assert entry.advice == "cast it"
    assert entry.pattern.pattern == r"no kernel for (?P<dtype>\w{1,40})"
    assert entry.accept == frozenset({"bf16", "fp16", "fp8_e4m3", "fp8_e5m2"})


def test_the_installed_catalogue_is_read_once_in_its_order() -> None:
    assert catalogue() is catalogue()
    assert [e.id for e in read_catalogue(CATALOGUE_DIR)] == [e.id for e in catalogue()]
    files = [e.file for e in catalogue()]
    assert files[0] == "kernels.toml" and files[-1] == "nonfinite.toml"
    assert sorted(set(files)) == sorted(p.name for p in CATALOGUE_DIR.glob("*.toml") if p.name != "index.toml")


MINI_AT = "{dir}/mini.toml: entry 'mini-entry'"

# (what to change in mini.toml: old -> new, the whole error message)
ENTRY_ERRORS = [
    pytest.param(
        'category = "unsupported"',
        'category = "unsuported"',
        MINI_AT + ": category 'unsuported' is not one of unsupported, mismatch, nonfinite",
        id="bad-category",
    ),
    pytest.param(
        'category = "unsupported"',
        'category = "undeclared"',
        MINI_AT + ": category 'undeclared' is not one of unsupported, mismatch, nonfinite",
        id="audit-category",
    ),
    pytest.param(
        "need_precision = true",
        'need_precision = true\nprecison = "bf16"',
        MINI_AT + ": unknown key 'precison'; known keys: id, category, pattern, summary, advice, source, "
        "roles, scan, accept, need_precision, precision, op, example",
        id="unknown-key",
    ),
    pytest.param(
        '[[entry.example]]\ntext = "RuntimeError: no kernel for BFloat16"\nseen = "written for this test"\n'
        'precision = "bf16"\n',
        "",
        MINI_AT + ": no [[entry.example]]; give at least one real error text the entry reads",
        id="missing-examples",
    ),
    pytest.param(
        "{NAME})'",
        "{NAMES})'",
        MINI_AT + ": 'pattern' uses {NAMES}, which is no fragment (known: NAME)",
        id="unknown-fragment",
    ),
    pytest.param(
        'roles = ["dtype"]',
        'roles = ["dtype", "kind"]',
        MINI_AT + ": role 'kind' is not a group of the pattern",
        id="role-not-a-group",
    ),
    pytest.param(
        'summary = "no {precision} kernel for {dtype}"',
        'summary = "no {precison} kernel"',
        MINI_AT + ": 'summary' names {precison}, which is neither a group of the pattern nor one of op, "
        "operands, precision, written",
        id="unknown-summary-field",
    ),
    pytest.param(
        'precision = "bf16"',
        'precision = "bfloat16"',
        MINI_AT + ", example 1: 'precision' is 'bfloat16'; write the canonical name 'bf16'",
        id="alias-precision",
    ),
    pytest.param(
        "need_precision = true",
        'need_precision = true\naccept = ["bf16", "bf17"]',
        MINI_AT + ": 'accept': unknown precision 'bf17'; valid names: fp32, tf32, fp16, bf16, fp8_e4m3, "
        "fp8_e5m2, fp64, amp_bf16, amp_fp16",
        id="unknown-precision",
    ),
    pytest.param(
        "need_precision = true",
        'need_precision = "yes"',
        MINI_AT + ": 'need_precision' must be true or false",
        id="flag-not-bool",
    ),
    pytest.param(
        'seen = "written for this test"\n', "", MINI_AT + ", example 1: 'seen' is missing", id="example-without-source"
    ),
    pytest.param(
        'seen = "written for this test"',
        'seen = "written for this test"\nentry = "mini-entry"',
        MINI_AT + ", example 1: unknown key 'entry'; known keys: text, seen, precision, other, op",
        id="example-unknown-key",
    ),
    pytest.param(
        'id = "mini-entry"',
        'id = "Mini_Entry"',
        "{dir}/mini.toml: entry 'Mini_Entry': the id must be kebab-case (lower-case words joined by '-')",
        id="bad-id",
    ),
    pytest.param('id = "mini-entry"\n', "", "{dir}/mini.toml: entry #1: 'id' is missing", id="missing-id"),
    pytest.param(
        'source = "this test"', 'source = ""', MINI_AT + ": 'source' must be a non-empty string", id="empty-source"
    ),
    pytest.param(
        "[[entry]]",
        "[defaults]\nid = 'x'\n\n[[entry]]",
        "{dir}/mini.toml: [defaults]: unknown key 'id'; known keys: category, summary, advice, source, "
        "roles, scan, accept, need_precision, precision, op",
        id="defaults-with-an-id",
    ),
]


LINEAR_ERRORS = [
    pytest.param(
        "pattern = 'no kernel for (?P<dtype>{NAME})'",
        "pattern = 'no kernel for (?P<dtype>\\w+)'",
        MINI_AT + ": pattern has an unbounded repeat (+, * or {n,}); write a bound such as {1,100}",
        id="unbounded-pattern",
    ),
    pytest.param(
        "pattern = 'no kernel for (?P<dtype>{NAME})'",
        "pattern = '(?:\\w{1,9}){1,9} no kernel for (?P<dtype>{NAME})'",
        MINI_AT + ": pattern nests a variable-width repeat in a repeat (catastrophic backtracking)",
        id="nested-repeat",
    ),
    pytest.param(
        "pattern = 'no kernel for (?P<dtype>{NAME})'",
        "pattern = '(?P<op>[\\w.]{1,64}): no kernel for (?P<dtype>{NAME})'",
        MINI_AT + ": pattern starts with a variable-width run, which rescans at every position; start it with "
        "literal text or guard the run with a lookbehind such as (?<![\\w.])",
        id="leading-run",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), LINEAR_ERRORS)
def test_a_pattern_that_could_backtrack_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    write(tmp_path, mini=changed(MINI, old, new))
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == message.replace("{dir}", str(tmp_path))


def test_an_unbounded_fragment_is_refused(tmp_path: Path) -> None:
    write(tmp_path, index=changed(INDEX, "NAME = '\\w{1,40}'", "NAME = '\\w+'"))
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/index.toml: fragment 'NAME': the fragment has an unbounded repeat (+, * or {{n,}}); "
        "write a bound such as {1,100}"
    )


def test_every_entry_has_a_keyword_and_a_tolerant_twin() -> None:
    for entry in catalogue():
        assert entry.tolerant is not None and entry.tolerant.flags & re.IGNORECASE, entry.id
        if entry.keyword is not None:
            assert all(entry.keyword in e.text for e in entry.examples), entry.id


@pytest.mark.parametrize(("old", "new", "message"), ENTRY_ERRORS)
def test_a_malformed_entry_is_named_with_its_file(tmp_path: Path, old: str, new: str, message: str) -> None:
    write(tmp_path, mini=changed(MINI, old, new))
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == message.replace("{dir}", str(tmp_path))


def test_a_pattern_that_does_not_compile(tmp_path: Path) -> None:
    write(tmp_path, mini=changed(MINI, "(?P<dtype>{NAME})'", "(?P<dtype>{NAME}'"))
    with pytest.raises(
        CatalogueError,
        match=re.escape(
            f"{tmp_path}/mini.toml: entry 'mini-entry': pattern does not compile: missing ), unterminated subpattern"
        ),
    ):
        read_catalogue(tmp_path)


def test_a_scan_without_a_group(tmp_path: Path) -> None:
    write(tmp_path, mini=changed(MINI, 'roles = ["dtype"]', "scan = 'CUDA_R_\\w{1,20}'"))
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/mini.toml: entry 'mini-entry': 'scan' has no group; its first non-empty group is the type "
        "name it finds"
    )


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    write(tmp_path, mini=MINI + "\n[[entry]\n")
    with pytest.raises(CatalogueError, match=re.escape(f"{tmp_path}/mini.toml: not valid TOML: ")):
        read_catalogue(tmp_path)


def test_a_file_with_no_entries(tmp_path: Path) -> None:
    write(tmp_path, mini="# nothing yet\n")
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == f"{tmp_path}/mini.toml: no [[entry]] tables; a catalogue file holds at least one entry"


def test_a_file_the_index_does_not_list(tmp_path: Path) -> None:
    write(tmp_path, extra=MINI)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/extra.toml: not listed in index.toml's files; add it where classify() should try its entries"
    )


def test_a_listed_file_that_is_missing(tmp_path: Path) -> None:
    write(tmp_path, index=changed(INDEX, '["mini.toml"]', '["mini.toml", "gone.toml"]'))
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == f"{tmp_path}/index.toml: 'files' lists 'gone.toml', which is not in {tmp_path}"


def test_an_id_taken_in_another_file(tmp_path: Path) -> None:
    write(tmp_path, index=changed(INDEX, '["mini.toml"]', '["mini.toml", "again.toml"]'), again=MINI)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/again.toml: entry 'mini-entry': the id is already taken in {tmp_path}/mini.toml"
    )


@pytest.mark.parametrize(
    ("index", "message"),
    [
        pytest.param("files = []\n", "{dir}/index.toml: 'files' must be a non-empty list of file names", id="no-files"),
        pytest.param(
            "order = 1\n" + INDEX,
            "{dir}/index.toml: unknown key 'order'; known keys: files, fragments",
            id="unknown-key",
        ),
        pytest.param(
            changed(INDEX, "NAME =", "name ="),
            "{dir}/index.toml: fragment 'name': a fragment's name is upper case, e.g. TYPENAME",
            id="lower-case-fragment",
        ),
    ],
)
def test_a_malformed_index(tmp_path: Path, index: str, message: str) -> None:
    write(tmp_path, index=index)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(tmp_path)
    assert str(info.value) == message.replace("{dir}", str(tmp_path))


def test_a_missing_index(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=re.escape(f"{tmp_path}/index.toml: cannot read it: ")):
        read_catalogue(tmp_path)


LAZY = """
import sys
import pytest_dtypegate.diagnosis as d
import pytest_dtypegate.errors
import pytest_dtypegate.cli.explain
assert "torch" not in sys.modules
assert d.loader.catalogue.cache_info().currsize == 0
assert "tomllib" not in sys.modules and "tomli" not in sys.modules
d.classify("TypeError: BFloat16 is not supported on MPS")
assert d.loader.catalogue.cache_info().currsize == 1
print("ok")
"""


def test_importing_reads_no_catalogue_and_no_torch() -> None:
    done = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, check=False, timeout=120)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


@pytest.mark.parametrize("name", errors.__all__)
def test_the_errors_module_keeps_the_public_names(name: str) -> None:
    assert getattr(errors, name) is getattr(diagnosis, name)


def test_the_package_exports_the_diagnosis_classifier() -> None:
    import pytest_dtypegate

    assert pytest_dtypegate.classify is diagnosis.classify
    assert pytest_dtypegate.Classification is diagnosis.Classification
