"""Fuzzing every reader the CI side owns: a bad input is its one error type, never a traceback.

Readers: the run report, the matrix baseline, the profile, the gate's pyproject table and
the capabilities.  Inputs are arbitrary bytes, arbitrary JSON, and valid documents with
one value swapped for an arbitrary one.  Time is bounded by Hypothesis's deadline per
example, never asserted.  Where msgspec is installed, the fast reader must accept only
what the standard one accepts, and give the same matrix.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reportdata import a100_report, v100_report

from pytest_dtypegate import profiles
from pytest_dtypegate.capabilities import Capabilities, CapabilitiesError
from pytest_dtypegate.ci import files, pr_gate, reading
from pytest_dtypegate.ci.files import InputError
from pytest_dtypegate.ci.model import build_matrix
from pytest_dtypegate.ci.render.json import render_json

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (pip install hypothesis)")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("DTYPEGATE_FUZZ_EXAMPLES", "60")),
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["passed", "failed", "bf16", "native", "unsupported", "dtypegate.report/1", "", "-", "NaN"]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*here, index))
    return out


def _swap(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """A valid document with one value (anywhere) replaced by an arbitrary JSON value, or a key dropped."""
    paths = _paths(original)
    path = draw(st.sampled_from(paths))
    if path and draw(st.booleans()) and isinstance(path[-1], str):
        copy = json.loads(json.dumps(original))
        target = copy
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return copy
    return _swap(original, path, draw(json_values))


def _write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _encode(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


REPORT = v100_report()
MATRIX = json.loads(render_json(build_matrix([("a.json", a100_report()), ("v.json", v100_report())])))
PROFILE = profiles.load("t4").to_json()
CAPABILITIES = REPORT["capabilities"]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- run reports ------------------------------------------------------------------------------------
def _read_report(tmp: Path, data: bytes) -> None:
    path = _write(tmp, "r.json", data)
    try:
        reading.load_matrix([path])
    except InputError as exc:
        assert str(exc).startswith(path) and "\n" not in str(exc)
    try:
        reading.load_report(path)
    except InputError:
        pass


@FUZZ
@given(data=st.binary(max_size=200))
def test_report_reader_on_bytes(tmp: Path, data: bytes) -> None:
    _read_report(tmp, data)


@FUZZ
@given(document=json_values)
def test_report_reader_on_json(tmp: Path, document: Any) -> None:
    _read_report(tmp, _encode(document))


@FUZZ
@given(document=mutated(REPORT))
def test_report_reader_on_mutated_reports(tmp: Path, document: Any) -> None:
    data = _encode(document)
    _read_report(tmp, data)
    # the fast reader takes no more than the standard one, and reads it the same
    fast = reading._fast_report(data, "r.json")
    if fast is not None:
        standard = reading.parse_report(files.decode_json(data, "r.json", "dtypegate report"), "r.json")
        assert build_matrix([("r", fast)]).cells == build_matrix([("r", standard)]).cells


# -- matrix baselines -------------------------------------------------------------------------------
def _read_baseline(tmp: Path, data: bytes) -> None:
    path = _write(tmp, "m.json", data)
    try:
        reading.load_baseline(path)
    except InputError as exc:
        assert str(exc).startswith(path) and "\n" not in str(exc)


@FUZZ
@given(document=mutated(MATRIX))
def test_baseline_reader_on_mutated_matrices(tmp: Path, document: Any) -> None:
    _read_baseline(tmp, _encode(document))


@FUZZ
@given(document=st.one_of(json_values, mutated(REPORT)))
def test_baseline_reader_on_json(tmp: Path, document: Any) -> None:
    _read_baseline(tmp, _encode(document))


# -- profiles ---------------------------------------------------------------------------------------
def _read_profile(tmp: Path, data: bytes) -> None:
    path = _write(tmp, "p.json", data)
    try:
        profiles.load(path)
    except profiles.ProfileError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(document=mutated(PROFILE))
def test_profile_reader_on_mutated_profiles(tmp: Path, document: Any) -> None:
    _read_profile(tmp, _encode(document))


@FUZZ
@given(data=st.one_of(st.binary(max_size=100), json_values.map(_encode)))
def test_profile_reader_on_anything(tmp: Path, data: bytes) -> None:
    _read_profile(tmp, data)


# -- the gate's pyproject table ------------------------------------------------------------------------
toml_values = st.one_of(
    st.integers(min_value=-5, max_value=5).map(str), st.booleans().map(lambda b: str(b).lower()),
    st.text(alphabet="abfp0123456,_ ", max_size=10).map(json.dumps),
    st.lists(st.sampled_from(["bf16", "fp32", "auto", "bf61", ""]), max_size=3).map(json.dumps),
)  # fmt: skip
toml_keys = st.sampled_from(["require", "require-native", "baseline", "allow-unprobed", "required", "gate"])


@FUZZ
@given(
    header=st.sampled_from(["[tool.dtypegate.gate]", "[tool.dtypegate]", "[tool]", "", "[tool.dtypegate.gate.x]"]),
    entries=st.lists(st.tuples(toml_keys, toml_values), max_size=3, unique_by=lambda kv: kv[0]),
    junk=st.text(max_size=20),
)
def test_gate_config_reader(tmp: Path, header: str, entries: list[tuple[str, str]], junk: str) -> None:
    body = "\n".join(f"{key} = {value}" for key, value in entries)
    path = tmp / "pyproject.toml"
    for text in (f"{header}\n{body}\n", f"{header}\n{body}\n{junk}\n"):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            rules = pr_gate.load_gate_rules(str(path))
        except pr_gate.ConfigError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc).strip()
        else:
            assert isinstance(rules, pr_gate.GateRules)


# -- capabilities ----------------------------------------------------------------------------------------
@FUZZ
@given(document=st.one_of(mutated(CAPABILITIES), json_values))
def test_capabilities_reader(document: Any) -> None:
    try:
        caps = Capabilities.from_json(document)
    except CapabilitiesError:
        return
    json.dumps(caps.to_json(), allow_nan=False)  # what is accepted can be written back


@FUZZ
@given(text=st.one_of(st.text(max_size=60), json_values.map(json.dumps)))
def test_capabilities_loads(text: str) -> None:
    try:
        Capabilities.loads(text)
    except CapabilitiesError:
        pass


@FUZZ
@given(
    extra=st.dictionaries(st.text(max_size=5), st.one_of(json_values, st.floats(), st.sets(st.integers())), max_size=3)
)
def test_capabilities_extra_is_json_or_refused(extra: dict[str, Any]) -> None:
    try:
        caps = Capabilities(device="cpu", support={"fp32": "native"}, extra=extra)
    except CapabilitiesError as exc:
        assert str(exc).startswith("extra")
        return
    json.dumps(caps.to_json(), allow_nan=False)


def test_fuzz_files_stay_in_their_directory(tmp: Path) -> None:
    assert {p.name for p in tmp.iterdir()} <= {"r.json", "m.json", "p.json", "pyproject.toml"}
    assert os.path.isdir(tmp)
