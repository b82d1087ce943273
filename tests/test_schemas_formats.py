"""The four file formats: each schema agrees with the code that writes the format and with the facts it names."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from devices import DEVICES
from reportdata import a100_report, v100_report

from pytest_dtypegate import profiles, schemas
from pytest_dtypegate.capabilities import SCHEMA as CAPABILITIES_SCHEMA
from pytest_dtypegate.capabilities import Capabilities, CapabilitiesError, Support
from pytest_dtypegate.ci.model import CELL_FIELDS, MATRIX_SCHEMA, build_matrix
from pytest_dtypegate.ci.render.json import matrix_to_json
from pytest_dtypegate.ci.runreport import OUTCOMES
from pytest_dtypegate.ci.runreport import SCHEMA as REPORT_SCHEMA
from pytest_dtypegate.facts import Category, SkipKind, Verdict


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("report", REPORT_SCHEMA),
        ("matrix", MATRIX_SCHEMA),
        ("profile", profiles.SCHEMA),
        ("capabilities", CAPABILITIES_SCHEMA),
    ],
)
def test_each_schema_names_its_format(name: str, title: str) -> None:
    schema = schemas.load(name)
    assert schema["title"] == title
    assert schema["properties"]["schema"]["const"] == title
    schemas.validator(name)  # compiles: no keyword the validator would ignore
    shipped = resources.files("pytest_dtypegate.schemas").joinpath(f"{name}.schema.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == schema


def test_facts_the_schemas_list_are_the_code_facts() -> None:
    assert schemas.load("report")["$defs"]["outcome"]["enum"] == list(OUTCOMES)
    assert schemas.load("capabilities")["$defs"]["state"]["enum"] == [state.value for state in Support]
    matrix_outcome = schemas.load("matrix-1")["properties"]["cells"]["items"]["properties"]["outcome"]
    assert matrix_outcome == {"$ref": "report.schema.json#/$defs/outcome"}
    cell = schemas.load("matrix")["properties"]["cells"]["items"]["prefixItems"]
    assert cell[4] == {"$ref": "report.schema.json#/$defs/outcome"}
    assert schemas.load("matrix")["properties"]["fields"]["const"] == list(CELL_FIELDS)
    assert len(cell) == len(CELL_FIELDS)
    # the enums a reader checks are the code's own (issue B 9: a category outside them is refused)
    defs = schemas.load("report")["$defs"]
    assert defs["category"]["enum"] == [c.value for c in Category] + [None]
    assert defs["skip_kind"]["enum"] == [k.value for k in SkipKind] + [None]
    assert defs["decision"]["enum"] == [v.value for v in Verdict] + [None]
    assert defs["support"]["enum"] == [s.value for s in Support] + [None]


def test_report_and_profile_reuse_the_capabilities_shape() -> None:
    report_caps = schemas.load("report")["properties"]["capabilities"]
    assert {"$ref": "capabilities.schema.json", "required": ["schema", "support"]} in report_caps["anyOf"]
    profile_caps = schemas.load("profile")["properties"]["capabilities"]["properties"]
    capabilities = schemas.load("capabilities")["properties"]
    for key, sub in profile_caps.items():
        assert sub == {"$ref": f"capabilities.schema.json#/properties/{key}"}
        assert key in capabilities


def test_what_the_code_writes_is_valid() -> None:
    assert schemas.validate(v100_report(), "report") == []
    assert (
        schemas.validate(matrix_to_json(build_matrix([("a.json", a100_report()), ("v.json", v100_report())])), "matrix")
        == []
    )
    for caps in DEVICES.values():
        assert schemas.validate(caps.to_json(), "capabilities") == []
    for profile in profiles.builtin():
        assert schemas.validate(profile.to_json(), "profile") == []
        assert schemas.validate(profile.capabilities.to_json(), "capabilities") == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"device": "cpu", "name": 7}, "capabilities: 'name' must be a string"),
        ({"device": ""}, "device must be a non-empty string, got ''"),
        (
            {"device": "cuda:0", "capability": [7, 0, 1]},
            "capability must be a (major, minor) pair of ints, got (7, 0, 1)",
        ),
        ({"device": "cpu", "support": ["bf16"]}, "support must be a mapping of precision to state, got ['bf16']"),
        ({"device": "cpu", "support": {"bf16": {"op": "mm"}}}, "support['bf16']: missing 'support'"),
        (
            {"device": "cpu", "support": {"bf16": {"support": "native", "op": 3}}},
            "support['bf16']: 'op' must be a string",
        ),
        ({"device": "cpu", "support": {"bf17": "fast"}}, "support: unknown precision 'bf17'"),  # the key is told first
        ({"device": "cpu", "support": {"bf16": 5}}, "support['bf16']: 5 is not a support state; valid: native, "),
    ],
)
def test_capabilities_json_problems_read_as_capabilities_words_them(document: dict[str, Any], message: str) -> None:
    with pytest.raises(CapabilitiesError) as info:
        Capabilities.from_json(document)
    assert str(info.value).startswith(message)


def test_support_states_read_in_any_case() -> None:
    caps = Capabilities.from_json({"device": "cpu", "support": {"bf16": "Emulated", "fp16": {"support": " NATIVE"}}})
    assert caps.support_of("bf16") is Support.EMULATED
    assert caps.support_of("fp16") is Support.NATIVE


def _load(tmp_path: Path, data: dict[str, Any]) -> profiles.Profile:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return profiles.load(str(path))


def _problem(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(profiles.ProfileError) as info:
        _load(tmp_path, data)
    return info.value.problem


def test_a_misspelt_profile_key_is_told_before_the_key_it_misses(tmp_path: Path) -> None:
    data = profiles.load("t4").to_json()
    data["nmae"] = data.pop("name")
    assert _problem(tmp_path, data).startswith("unknown key 'nmae' in the profile; allowed: schema, name, ")


def test_profile_errors_are_judged_after_the_capabilities(tmp_path: Path) -> None:
    # both the support table and an error entry are wrong: the support table is told, as it always was
    data = profiles.load("t4").to_json()
    del data["capabilities"]["support"]["fp64"]
    data["errors"]["fp8_e4m3"] = "boom"
    assert _problem(tmp_path, data).startswith("capabilities.support does not state fp64;")


def test_profile_support_states_read_in_any_case(tmp_path: Path) -> None:
    data = profiles.load("t4").to_json()
    data["capabilities"]["support"]["fp16"] = "Native"
    assert _load(tmp_path, data).capabilities.support_of("fp16") is Support.NATIVE


def test_profile_capability_must_be_python_ints(tmp_path: Path) -> None:
    data = profiles.load("t4").to_json()
    data["capabilities"]["capability"] = [7.0, 5]
    assert _problem(tmp_path, data) == "'capabilities.capability' must be [major, minor] or null, got [7.0, 5]"
