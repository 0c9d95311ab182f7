"""The documentation: the generated configuration reference is current, the README stays a front
door (at most 200 lines), and every relative link of README.md, config/README.md and docs/*.md
points at a file that exists."""

import re
from pathlib import Path

import pytest
from conftest import load_script

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200
PAGES = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def load_generator():
    return load_script("scripts/config_docs.py")


def test_configuration_page_is_generated_from_the_schema():
    page = REPO / "docs" / "configuration.md"
    expected = load_generator().render()
    assert page.exists() and page.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md differs from config/schema.yaml: run `python scripts/config_docs.py --write`"
    )


def test_configuration_page_lists_every_schema_key():
    import yaml

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text(encoding="utf-8"))
    text = load_generator().render()

    def keys(node, path):
        node = load_generator().resolve(node, schema)
        for name, child in (node.get("properties") or {}).items():
            yield from [f"{path}.{name}" if path else name, *keys(child, f"{path}.{name}" if path else name)]
        if isinstance(node.get("additionalProperties"), dict):
            yield from keys(node["additionalProperties"], f"{path}.<name>")
        if isinstance(node.get("items"), dict):
            yield from keys(node["items"], f"{path}[]")

    listed = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))  # a row per key
    listed |= set(re.findall(r"^## (\S+)$", text, flags=re.M))  # top-level sections are headings
    missing = [k for k in keys(schema, "") if k not in listed]
    assert not missing, f"keys of config/schema.yaml missing from the generated page: {missing}"
    assert "s4.mmlu.revision" in listed and "models.<name>.path" in listed


def test_readme_is_at_most_200_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail into docs/"
    )


def relative_links(text: str) -> list[str]:
    """Targets of Markdown links and images that are neither URLs nor in-page anchors (code skipped)."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)  # fenced blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    targets = re.findall(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    targets += re.findall(r"^\s*\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s.*)?$", text, flags=re.M)  # reference links
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t, flags=re.I)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_existing_files(page):
    if not page.exists():
        pytest.fail(f"{page.relative_to(REPO)} is missing")
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)} links to files that do not exist: {broken}"


def test_link_finder():
    text = '[a](docs/x.md) [b](https://e.org) [c](#top) ![d](img.png "t") `[e](no.md)`\n```\n[f](no.md)\n```\n'
    assert relative_links(text) == ["docs/x.md", "img.png"]
