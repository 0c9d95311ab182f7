"""A FActScore-layout people set built from real text (the embedded Vital Articles lead paragraphs):
prompt_entities.txt plus a SQLite knowledge source documents(title, text), as FActScore ships them."""

from pathlib import Path

from factgap.factscore.entities import TIER_VITAL, load_embedded_entities
from factgap.rehearsal import layouts

# people whose lead paragraph states life dates, nationality and occupation
NAMES = (
    "Albert Einstein",
    "Marie Curie",
    "Charles Darwin",
    "Isaac Newton",
    "Johann Sebastian Bach",
    "Leonardo da Vinci",
    "William Shakespeare",
    "Wolfgang Amadeus Mozart",
    "Galileo Galilei",
    "Ludwig van Beethoven",
    "Pablo Picasso",
    "Nikola Tesla",
)


def write_factscore_layout(folder: Path, names=NAMES, damage=None) -> tuple[Path, Path]:
    """(prompt_entities.txt, knowledge.db) of ``names``; ``damage`` breaks one row (layouts.write_factscore_layout)."""
    people = {e["name"]: e for e in load_embedded_entities()}
    chosen = [n for n in names if n in people]
    assert len(chosen) >= 9, f"embedded people changed: only {chosen} found"
    assert all(people[n]["tier"] in (TIER_VITAL, "vital_l3") for n in chosen)
    return layouts.write_factscore_layout(folder, chosen, damage)
