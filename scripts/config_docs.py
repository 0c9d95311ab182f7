#!/usr/bin/env python
"""Generate docs/configuration.md from config/schema.yaml (stdlib + PyYAML only).

  python scripts/config_docs.py            # print the page
  python scripts/config_docs.py --write    # write docs/configuration.md

Every key of the schema gets one row: its dotted path (maps of named entries read
``models.<name>.path``, list entries ``s3.evaluation.ood_qa_sets[].name``; ``$ref`` definitions are
resolved), its type with the allowed values or range, its default and its description, in one
table per top-level section. tests/test_docs.py fails when the committed page differs from this output.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
PAGE = REPO / "docs" / "configuration.md"
GENERAL = "General"  # the section of top-level keys that are not objects


# ---- reading the schema --------------------------------------------------------------------------


def resolve(node: Any, schema: Mapping[str, Any]) -> Any:
    """``node`` with a local ``$ref`` (``#/definitions/x``) replaced by its target, merged with its siblings."""
    if not isinstance(node, Mapping) or "$ref" not in node:
        return node
    ref = node["$ref"]
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    target: Any = schema
    for part in ref[2:].split("/"):
        target = target[part]
    merged = dict(resolve(target, schema))
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def is_object(node: Mapping[str, Any]) -> bool:
    return "properties" in node or isinstance(node.get("additionalProperties"), Mapping)


def types_of(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


# ---- formatting cells ----------------------------------------------------------------------------


def value_text(value: Any) -> str:
    """A value as YAML flow text (``null``, ``true``, ``[a, b]``, ``{dev: 0.2}``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return (
            value
            if value and re.fullmatch(r"[^\s\[\]{},:#'\"]([^\[\]{},#]*[^\s\[\]{},:#])?", value)
            else '"' + value.replace('"', '\\"') + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def code(text: str) -> str:
    """Inline code that survives a Markdown table (pipes escaped, backticks widened)."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def prose(text: str) -> str:
    """Description text for a table cell: one line; pipes escaped, and ``<`` (``<name>`` is no HTML tag)."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|").replace("<", "&lt;")


def range_text(node: Mapping[str, Any]) -> str:
    parts = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{sign} {value_text(node[key])}")
    if "minLength" in node and node["minLength"] > 0:
        parts.append("non-empty" if node["minLength"] == 1 else f"length >= {node['minLength']}")
    if "pattern" in node:
        parts.append(f"matches {code(node['pattern'])}")
    return ", ".join(parts)


def type_text(node: Mapping[str, Any]) -> str:
    """The type cell: type(s), allowed values, range, item type of arrays."""
    kinds = [k for k in types_of(node) if k != "null"] or ["any"]
    nullable = "null" in types_of(node)
    if "enum" in node:
        text = "one of " + ", ".join(code(value_text(v)) for v in node["enum"])
    else:
        text = " or ".join(kinds)
        extra = range_text(node)
        if extra:
            text += f" ({extra})"
        if "array" in kinds:
            notes = []
            items = node.get("items")
            if isinstance(items, Mapping):
                notes.append("items: objects (keys below)" if is_object(items) else f"items: {type_text(items)}")
            if node.get("minItems"):
                notes.append(f"at least {node['minItems']}")
            if node.get("uniqueItems"):
                notes.append("unique")
            if notes:
                text += "; " + "; ".join(notes)
    return text + (" or null" if nullable else "")


def default_text(node: Mapping[str, Any], required: bool) -> str:
    if "default" in node:
        return code(value_text(node["default"]))
    return "required" if required else "—"


# ---- walking the schema --------------------------------------------------------------------------


def rows(node: Mapping[str, Any], path: str, schema: Mapping[str, Any], required: bool = False) -> list[list[str]]:
    """Rows ``[key, type, default, description]`` of ``node`` at ``path`` and of every key under it."""
    node = resolve(node, schema)
    description = node.get("description") or ("One entry (its keys below)." if is_object(node) else "")
    out = [[code(path), type_text(node), default_text(node, required), prose(description)]]
    out += children(node, path, schema)
    return out


def children(node: Mapping[str, Any], path: str, schema: Mapping[str, Any]) -> list[list[str]]:
    node = resolve(node, schema)
    out: list[list[str]] = []
    needed = set(node.get("required", []))
    for name, child in (node.get("properties") or {}).items():
        out += rows(child, f"{path}.{name}" if path else name, schema, name in needed)
    entries = node.get("additionalProperties")
    if isinstance(entries, Mapping):
        entry = resolve(entries, schema)
        out += rows(entry, f"{path}.<name>", schema)
    items = node.get("items")
    if isinstance(items, Mapping) and is_object(resolve(items, schema)):
        out += children(items, f"{path}[]", schema)
    return out


def map_note(node: Mapping[str, Any], path: str) -> str:
    """A sentence on a map of named entries (``models.<name>``): what a name may be."""
    if not isinstance(node.get("additionalProperties"), Mapping):
        return ""
    pattern = (node.get("propertyNames") or {}).get("pattern")
    note = f"A map of named entries, `{path}.<name>: {{...}}`"
    if pattern:
        note += f"; a name matches {code(pattern)}"
    if node.get("minProperties"):
        note += f"; at least {node['minProperties']} entry"
    return note + "."


def table(body: list[list[str]]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def page(schema: Mapping[str, Any]) -> str:
    props = schema["properties"]
    general = [name for name, node in props.items() if not is_object(resolve(node, schema))]
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from config/schema.yaml by scripts/config_docs.py; edit the schema, then run",
        "     `python scripts/config_docs.py --write`. tests/test_docs.py checks this page is current. -->",
        "",
        prose(schema.get("description", "")),
        "",
        "How configs are chosen and checked: [config/README.md](../config/README.md). Keys are written as dotted",
        "paths: `models.<name>.path` is the `path` of any entry of the `models` map, and",
        '`s3.evaluation.ood_qa_sets[].name` the `name` of any entry of that list. "—" in the default column:',
        'no default (the key may be left out); "required": the key must be given.',
        "",
        "Sections: "
        + ", ".join(f"[{title}](#{anchor(title)})" for title in [GENERAL] + [n for n in props if n not in general])
        + ".",
        "",
        f"## {GENERAL}",
        "",
        "Top-level keys that are not sections.",
        "",
    ]
    body: list[list[str]] = []
    for name in general:
        body += rows(props[name], name, schema)
    lines += table(body) + [""]
    for name, node in props.items():
        if name in general:
            continue
        node = resolve(node, schema)
        lines += [f"## {name}", ""]
        text = prose(node.get("description", ""))
        note = map_note(node, name)
        lines += [" ".join(t for t in (text, note) if t), ""]
        if "default" in node and node["default"] != {}:
            lines += [f"Default: {code(value_text(node['default']))}.", ""]
        lines += table(children(node, name, schema)) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def anchor(title: str) -> str:
    """GitHub's heading anchor of a plain heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def render(schema_path: Path = SCHEMA) -> str:
    return page(yaml.safe_load(schema_path.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(REPO)} instead of printing")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the schema to document")
    args = parser.parse_args(argv)
    text = render(args.schema)
    if args.write:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(text, encoding="utf-8")
        print(f"wrote {PAGE.relative_to(REPO)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
