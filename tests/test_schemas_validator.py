"""The one validator: the keywords it knows, the order and words of its problems, the keywords it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_dtypegate import schemas


def _problems(schema: dict[str, Any], document: Any) -> list[str]:
    return [str(problem) for problem in schemas.Validator(schema).problems(document)]


@pytest.mark.parametrize(
    ("schema", "document", "problems"),
    [
        ({"type": "integer"}, 1.0, []),  # JSON Schema: 1.0 is an integer
        ({"type": "integer"}, True, ["the document: expected integer, got bool"]),
        ({"type": "number"}, False, ["the document: expected number, got bool"]),
        ({"type": ["string", "null"]}, None, []),
        ({"type": "string", "minLength": 1}, "", ["the document: must not be empty"]),
        ({"type": "string", "minLength": 3}, "ab", ["the document: shorter than 3"]),
        ({"type": "string", "pattern": "\\S"}, "  ", ["the document: '  ' does not match '\\\\S'"]),
        ({"type": "string", "not": {"pattern": "\\s"}}, "a b", ["the document: 'a b' is not allowed here"]),
        ({"type": "array", "minItems": 1}, [], ["the document: must not be empty"]),
        ({"minItems": 2, "maxItems": 2}, [1, 2, 3], ["the document: has 3 items, more than 2"]),
        ({"minItems": 2}, [1], ["the document: has 1 items, fewer than 2"]),
        ({"minimum": 0}, -1, ["the document: -1 is below the minimum 0"]),
        ({"enum": ["a", "b"]}, "c", ["the document: 'c' is not one of a, b"]),
        ({"enum": [1, None]}, 2, ["the document: 2 is not one of 1, None"]),
        ({"const": "x/1"}, "x/2", ["the document: must be 'x/1', got 'x/2'"]),
        ({"type": "string", "minLength": 2}, 5, ["the document: expected string, got int"]),  # a wrong type ends it
    ],
)
def test_keywords(schema: dict[str, Any], document: Any, problems: list[str]) -> None:
    assert _problems(schema, document) == problems


def test_objects_report_missing_keys_then_keys_in_document_order() -> None:
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "additionalProperties": False,
        "properties": {"a": {"type": "string"}, "c": {"type": "string"}, "d": {"type": "integer"}},
    }
    assert _problems(schema, {"d": "x", "zz": 1, "c": 2}) == [
        "the document: missing 'a'",
        "the document: missing 'b'",
        "d: expected integer, got str",
        "the document: unexpected key 'zz'",
        "c: expected string, got int",
    ]
    missing, unexpected = schemas.Validator(schema).problems({"a": "x", "zz": 1})
    assert (missing.keyword, missing.key, missing.path) == ("required", "b", ())
    assert (unexpected.keyword, unexpected.key, unexpected.expected) == ("additionalProperties", "zz", ("a", "c", "d"))


def test_additional_properties_schema_and_paths() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}
    [problem] = schemas.Validator(schema).problems({"ok": [1], "bad": [1, "x"]})
    assert str(problem) == "bad[1]: expected integer, got str"
    assert problem.path == ("bad", 1)
    assert schemas.format_path(()) == "the document"
    assert schemas.format_path((0, "a", 2, "b")) == "[0].a[2].b"


def test_any_of_says_what_the_closest_branch_says() -> None:
    schema = {
        "anyOf": [
            {"type": "string", "enum": ["native", "emulated"]},
            {"type": "object", "required": ["support"], "properties": {"support": {"enum": ["native"]}}},
            {"type": "null"},
        ]
    }
    assert _problems(schema, "native") == []
    assert _problems(schema, None) == []
    # every branch refuses the type: one problem naming every type
    assert _problems(schema, 5) == ["the document: expected string or object or null, got int"]
    # the branch that took the type and got furthest in
    assert _problems(schema, {"support": "maybe"}) == ["support: 'maybe' is not one of native"]
    assert _problems(schema, "maybe") == ["the document: 'maybe' is not one of native, emulated"]
    assert _problems(schema, {}) == ["the document: missing 'support'"]


def test_refs_within_a_file_and_across_files() -> None:
    schema = {
        "$defs": {"name": {"type": "string", "minLength": 1}},
        "properties": {
            "a": {"$ref": "#/$defs/name"},
            "caps": {"$ref": "capabilities.schema.json"},
            "state": {"$ref": "capabilities.schema.json#/$defs/state"},
        },
    }
    assert _problems(schema, {"a": "", "caps": {"device": ""}, "state": "fast"}) == [
        "a: must not be empty",
        "caps.device: must not be empty",
        "state: 'fast' is not one of native, emulated, unsupported, unknown",
    ]


def test_recursive_refs() -> None:
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
    assert _problems(schema, {"next": {"next": {"next": 5}}}) == ["next.next.next: expected object, got int"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "string", "format": "email"}, "schema at # uses unsupported keywords: format"),
        ({"properties": {"a": {"oneOf": []}}}, "schema at #/properties/a uses unsupported keywords: oneOf"),
        ({"$defs": {"unused": {"if": {}}}}, "schema at #/$defs/unused uses unsupported keywords: if"),
        ({"type": "text"}, "schema at #: unknown type 'text'"),
        ({"$ref": "#/$defs/missing"}, "schema at #: cannot resolve $ref '#/$defs/missing'"),
        ({"$ref": "report.schema.json#/nowhere"}, "schema at #: cannot resolve $ref 'report.schema.json#/nowhere'"),
        ({"$ref": "https://example.org/x.json"}, "schema at #: cannot resolve $ref 'https://example.org/x.json'"),
    ],
)
def test_schemas_it_cannot_apply_are_refused(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.Validator(schema)
    assert str(info.value) == message


def test_named_schemas_load_once() -> None:
    assert schemas.validator("report") is schemas.validator("report")
    assert schemas.load("profile") is schemas.load("profile")
    with pytest.raises(
        ValueError, match=r"^no schema named 'nope'; known: capabilities, matrix, matrix-1, profile, report$"
    ):
        schemas.load("nope")
