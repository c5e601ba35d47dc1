"""A small JSON Schema (2020-12 subset, as OpenAPI 3.1 uses it) validator for the tests.

It knows exactly the keywords the API document uses and fails loudly on any other
validation keyword, so a schema can never pass a check by using a keyword this file
ignores. ``closed=True`` also refuses object keys a schema does not document, so the
document cannot fall behind the answers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

ANNOTATIONS = frozenset(
    {"description", "examples", "default", "title", "contentMediaType", "deprecated"}
)
KEYWORDS = frozenset(
    {
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minimum",
        "maximum",
        "maxLength",
        "maxItems",
        "pattern",
        "format",
    }
)
TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


class SchemaChecker:
    def __init__(self, document: dict[str, Any], *, closed: bool = True) -> None:
        self.document = document
        self.closed = closed

    def resolve(self, ref: str) -> dict[str, Any]:
        assert ref.startswith("#/"), ref
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def errors(self, instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise AssertionError(f"schema at {path} uses keywords the checker lacks: {unknown}")
        if "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.errors(instance, {**self.resolve(schema["$ref"]), **rest}, path)
        if "allOf" in schema:
            merged = self._merge_all_of(schema)
            return self.errors(instance, merged, path)
        found: list[str] = []
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema["oneOf"]
            results = [self.errors(instance, option, path) for option in options]
            passing = sum(1 for r in results if not r)
            if passing == 0:
                found.append(f"{path}: matches none of the options: {results}")
            elif "oneOf" in schema and passing > 1:
                found.append(f"{path}: matches {passing} oneOf options")
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(TYPES[t](instance) for t in types):
                return [f"{path}: {instance!r} is not of type {types}"]
        if "enum" in schema and instance not in schema["enum"]:
            found.append(f"{path}: {instance!r} is not one of {schema['enum']}")
        if isinstance(instance, str):
            if "pattern" in schema and not re.search(schema["pattern"], instance):
                found.append(f"{path}: {instance!r} does not match {schema['pattern']}")
            if "maxLength" in schema and len(instance) > schema["maxLength"]:
                found.append(f"{path}: longer than {schema['maxLength']}")
            fmt = schema.get("format")
            if fmt == "date-time":
                try:
                    parsed = datetime.fromisoformat(instance)
                    if parsed.tzinfo is None:
                        found.append(f"{path}: {instance!r} has no UTC offset")
                except ValueError:
                    found.append(f"{path}: {instance!r} is not a date-time")
            elif fmt == "date":
                try:
                    date.fromisoformat(instance)
                except ValueError:
                    found.append(f"{path}: {instance!r} is not a date")
        if isinstance(instance, int | float) and not isinstance(instance, bool):
            if "minimum" in schema and instance < schema["minimum"]:
                found.append(f"{path}: {instance} < {schema['minimum']}")
            if "maximum" in schema and instance > schema["maximum"]:
                found.append(f"{path}: {instance} > {schema['maximum']}")
        if isinstance(instance, list):
            if "maxItems" in schema and len(instance) > schema["maxItems"]:
                found.append(f"{path}: more than {schema['maxItems']} items")
            if "items" in schema:
                for i, item in enumerate(instance):
                    found += self.errors(item, schema["items"], f"{path}[{i}]")
        if isinstance(instance, dict):
            properties = schema.get("properties", {})
            for key in schema.get("required", []):
                if key not in instance:
                    found.append(f"{path}: missing required key {key!r}")
            extra = schema.get("additionalProperties", not self.closed if properties else True)
            for key, value in instance.items():
                where = f"{path}.{key}"
                if key in properties:
                    found += self.errors(value, properties[key], where)
                elif extra is False:
                    found.append(f"{path}: key {key!r} is not documented")
                elif isinstance(extra, dict):
                    found += self.errors(value, extra, where)
        return found

    def _merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``allOf`` of object schemas as one object schema (so closed checks see every
        documented key)."""
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            while "$ref" in part:
                part = self.resolve(part["$ref"])
            if "allOf" in part:
                part = self._merge_all_of(part)
            assert part.get("type") == "object", "allOf is only used for objects here"
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged

    def check(self, instance: Any, schema: dict[str, Any] | str) -> None:
        """Fail the test, listing every problem, when ``instance`` does not validate."""
        if isinstance(schema, str):
            schema = {"$ref": f"#/components/schemas/{schema}"}
        problems = self.errors(instance, schema)
        assert not problems, "\n".join(problems[:20])
