"""Decoding and checking in one pass, where ``msgspec`` is installed: the schemas compiled to msgspec types.

The big part of a document (a report's ``tests``, a matrix's ``cells``) is
decoded straight into typed values by msgspec, which checks each value against
the type compiled from that part's schema as it parses; the small rest is
decoded as plain values and checked by :func:`pytest_dtypegate.schemas.validate`.
The schema files stay the one declaration of each format: nothing here is
written by hand per field.

This is only ever a faster way to the same answer: whenever the fast decoder
refuses a document (or cannot be built: msgspec missing, a schema using a
keyword it cannot express) the caller reads the file again with the standard
library and the full validator, which decide, and word the problem.  So the
compiled types are at least as strict as the schema, never looser.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Mapping
from typing import Any, Literal, Optional, Union

from . import load

__all__ = ["INT_LIMIT", "Unsupported", "available", "decoder"]

#: Integers a reader takes: at most 18 digits, as the standard library reader (``ci.files.MAX_INT_DIGITS``).
INT_LIMIT = 10**18 - 1
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples"})


class Unsupported(Exception):
    """A schema node msgspec cannot express exactly; the reader then uses the standard library."""


def available() -> bool:
    try:
        import msgspec  # noqa: F401
    except ImportError:
        return False
    return True


class _Compiler:
    def __init__(self, msgspec: Any) -> None:
        self.msgspec = msgspec
        self.done: dict[tuple[str, str], Any] = {}
        self.count = 0

    def ref(self, ref: str, doc: str) -> Any:
        file, _, pointer = ref.partition("#")
        if file:
            doc = file[: -len(".schema.json")]
        key = (doc, pointer)
        if key not in self.done:
            target: Any = load(doc)
            for part in pointer.split("/")[1:] if pointer else ():
                target = target[part]
            self.done[key] = self.node(target, doc)
        return self.done[key]

    def node(self, schema: Any, doc: str) -> Any:
        ms = self.msgspec
        if schema is True or schema == {}:
            return Any
        if not isinstance(schema, Mapping):
            raise Unsupported(f"schema node {schema!r}")
        keys = set(schema) - _ANNOTATIONS
        if not keys:
            return Any
        if keys == {"$ref"}:
            return self.ref(schema["$ref"], doc)
        if "$ref" in keys:
            raise Unsupported("$ref beside other keywords")
        if "enum" in keys or "const" in keys:
            if keys - {"enum", "const", "type"}:
                raise Unsupported("enum with other keywords")
            options = schema["enum"] if "enum" in schema else [schema["const"]]
            if not options or not all(isinstance(o, str) or o is None for o in options):
                raise Unsupported("enum of other values than strings and null")
            allowed = set(options)
            if "type" in schema:  # keep only what the type allows too
                typed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
                allowed = {
                    o for o in allowed if (o is None and "null" in typed) or (o is not None and "string" in typed)
                }
            if not allowed:
                raise Unsupported("empty enum")
            literal = Literal[tuple(sorted(o for o in allowed if o is not None))]  # type: ignore[valid-type]
            if None in allowed:
                return Optional[literal] if len(allowed) > 1 else type(None)
            return literal
        declared = schema.get("type")
        if declared is None:
            raise Unsupported("a node without a type")
        names: list[Any] = list(declared) if isinstance(declared, list) else [declared]
        nullable = "null" in names
        names = [n for n in names if n != "null"]
        if len(names) != 1:
            raise Unsupported(f"type {schema['type']!r}")
        (name,) = names
        meta: dict[str, Any] = {}
        if name in ("integer", "number"):
            if keys - {"type", "minimum", "maximum"}:
                raise Unsupported("number keywords")
            low = schema.get("minimum", -INT_LIMIT if name == "integer" else None)
            high = schema.get("maximum", INT_LIMIT if name == "integer" else None)
            if low is not None:
                meta["ge"] = low
            if high is not None:
                meta["le"] = high
            base: Any = int if name == "integer" else float
        elif name == "string":
            if keys - {"type", "minLength", "pattern"}:
                raise Unsupported("string keywords")
            if "minLength" in schema:
                meta["min_length"] = schema["minLength"]
            if "pattern" in schema:
                meta["pattern"] = schema["pattern"]
            base = str
        elif name == "boolean":
            if keys != {"type"}:
                raise Unsupported("boolean keywords")
            base = bool
        elif name == "array":
            base = self.array(schema, keys, doc)
        elif name == "object":
            base = self.struct(schema, keys, doc)
        else:
            raise Unsupported(f"type {name!r}")
        if meta:
            from typing import Annotated

            base = Annotated[base, ms.Meta(**meta)]
        return Optional[base] if nullable else base

    def array(self, schema: Mapping[str, Any], keys: set[str], doc: str) -> Any:
        if keys - {"type", "items", "prefixItems", "minItems", "maxItems"}:
            raise Unsupported("array keywords")
        if "prefixItems" in schema:
            prefix = [self.node(sub, doc) for sub in schema["prefixItems"]]
            exact = schema.get("items") is False and schema.get("minItems") == len(prefix)
            if not exact or "maxItems" in schema:
                raise Unsupported("prefixItems without items: false and minItems of the same length")
            return tuple.__class_getitem__(tuple(prefix))
        if "minItems" in schema or "maxItems" in schema:
            raise Unsupported("minItems/maxItems")
        return list[self.node(schema.get("items", True), doc)]  # type: ignore[misc]

    def struct(self, schema: Mapping[str, Any], keys: set[str], doc: str) -> Any:
        if keys - {"type", "properties", "required", "additionalProperties"}:
            raise Unsupported("object keywords")
        extra = schema.get("additionalProperties", True)
        if "properties" not in schema:
            if extra is True:
                return dict[str, Any]
            raise Unsupported("additionalProperties schema")
        if extra not in (True, False):
            raise Unsupported("additionalProperties schema")
        required = set(schema.get("required", ()))
        fields: list[tuple[Any, ...]] = []
        for key, sub in schema["properties"].items():
            if not key.isidentifier() or keyword.iskeyword(key) or key.startswith("_"):
                raise Unsupported(f"property name {key!r}")
            kind = self.node(sub, doc)
            fields.append(
                (key, kind) if key in required else (key, Union[kind, self.msgspec.UnsetType], self.msgspec.UNSET)
            )
        if not required <= set(schema["properties"]):
            raise Unsupported("a required key without a schema")
        fields.sort(key=len)  # msgspec: fields without a default come first
        self.count += 1
        return self.msgspec.defstruct(
            f"_Node{self.count}", fields, forbid_unknown_fields=extra is False, omit_defaults=True
        )


@functools.cache
def decoder(name: str, hot: str) -> Any:
    """A msgspec JSON decoder for the schema ``name`` whose top-level key ``hot`` is typed.

    The other top-level keys of the schema decode as plain values (the caller
    checks them with the full validator); unknown top-level keys are skipped,
    which a schema allowing them lets through anyway.  Raises :class:`Unsupported`
    when msgspec is missing or the schema cannot be compiled exactly.
    """
    try:
        import msgspec
    except ImportError:
        raise Unsupported("msgspec is not installed") from None
    schema = load(name)
    compiler = _Compiler(msgspec)
    properties = schema.get("properties", {})
    if hot not in properties:
        raise Unsupported(f"{name} has no key {hot!r}")
    fields: list[tuple[Any, ...]] = []
    for key, sub in properties.items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise Unsupported(f"property name {key!r}")
        kind = compiler.node(sub, name) if key == hot else Any
        fields.append((key, Union[kind, msgspec.UnsetType], msgspec.UNSET))
    top = msgspec.defstruct("_Document", fields)
    return msgspec.json.Decoder(top)
