"""A FActScore-layout people set built from real text (the embedded Vital Articles lead paragraphs):
prompt_entities.txt plus a SQLite knowledge source documents(title, text), as FActScore ships them."""

import sqlite3
from pathlib import Path

from factgap.factscore.entities import FACTSCORE_SEPARATOR, TIER_VITAL, load_embedded_entities

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
    """(prompt_entities.txt, knowledge.db). ``damage``: "missing" (a name without document), "empty"
    (a document without text) or "malformed" (a line with a tab) breaks one row on purpose."""
    people = {e["name"]: e for e in load_embedded_entities()}
    chosen = [n for n in names if n in people]
    assert len(chosen) >= 9, f"embedded people changed: only {chosen} found"
    folder.mkdir(parents=True, exist_ok=True)
    entities, db = folder / "prompt_entities.txt", folder / "knowledge.db"
    lines = list(chosen)
    if damage == "malformed":
        lines[3] = lines[3] + "\tcolumn"
    entities.write_text("\n".join(lines) + "\n", encoding="utf-8")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE documents (title PRIMARY KEY, text)")
    for i, name in enumerate(chosen):
        if damage == "missing" and i == 4:
            continue
        text = (
            ""
            if damage == "empty" and i == 5
            else FACTSCORE_SEPARATOR.join(f"<s>{p}</s>" for p in people[name]["knowledge"])
        )
        conn.execute("INSERT INTO documents VALUES (?, ?)", (name, text))
    conn.commit()
    conn.close()
    assert all(people[n]["tier"] in (TIER_VITAL, "vital_l3") for n in chosen)
    return entities, db
