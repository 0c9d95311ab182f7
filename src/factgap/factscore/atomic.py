"""Atomic facts from a generated bio (FActScore step 1).

Two extractors:

* ``rules`` (the offline default; the embedded 135M model extracts facts poorly): sentence
  splitting with pysbd, then regular expressions that cut each sentence about the subject into
  single claims around dates, places, nationalities, occupations, prizes, and the remaining
  clauses. A recognised claim carries a slot (``birth_year``, ``birth_place``, ...) and its
  value, which the rule verifier and the knowledge probe use.
  With ``person=False`` (answers about a topic such as "Volcano") no slot is read: the
  subject is a common noun, so "is a ..." names a kind, not an occupation, and every claim
  goes to the verifier's passage-overlap check.
* ``llm``: FActScore's prompt ("Please breakdown the following sentence into independent
  facts:") with fixed demonstrations, and a parser of the "- fact" lines it returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TypedDict

from factgap.factscore.lexicon import DEMONYMS, MONTHS, is_demonym
from factgap.text import normalize_answer


class AtomicFact(TypedDict):
    response_id: str
    sentence_index: int
    position: int  # character offset in the response where the fact's source starts
    text: str  # the self-contained claim ("Albert Einstein was born in 1879.")
    slot: str | None  # birth_year, birth_date, death_year, death_date, birth_place, ...
    value: str | None  # the slot's value as text (years as digits, dates as YYYY-MM-DD)
    sentence: str  # the source sentence


# ---------------------------------------------------------------------------------------------
# Sentences


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


_MARKUP = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.)]|#+)\s+|\*\*|__")


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(character offset, sentence) pairs; paragraphs and list items split first.

    Markdown emphasis and bullets are blanked (same length), so offsets stay valid.
    """
    out: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        clean = _MARKUP.sub(lambda m: " " * len(m.group(0)), line)
        if clean.strip():
            for span in _segmenter().segment(clean):
                sentence = span.sent.strip()
                if sentence:
                    out.append((offset + span.start + (len(span.sent) - len(span.sent.lstrip())), sentence))
        offset += len(line) + 1
    return out


# ---------------------------------------------------------------------------------------------
# Dates, years, places

_MONTH = (
    r"(?:Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|Aug(?:ust|\.)?|"
    r"Sep(?:tember|t?\.)?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
_ERA = r"(?:\s*(?P<era>BC|BCE|AD|CE|B\.C\.|A\.D\.))?"
_DATE_PATTERNS = (
    re.compile(rf"\b(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{3,4}})\b{_ERA}"),
    re.compile(
        rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH}),?\s+(?P<year>\d{{3,4}})\b{_ERA}"
    ),
    re.compile(rf"\b(?P<month>{_MONTH})(?:\s+of)?,?\s+(?P<year>\d{{3,4}})\b{_ERA}"),
    re.compile(r"\b(?P<era>AD|A\.D\.)\s+(?P<year>\d{1,4})\b"),
    re.compile(r"(?<![\d,.])\b(?P<year>\d{1,4})\s+(?P<era>BC|BCE|B\.C\.|AD|CE)\b"),
    re.compile(rf"(?<![\d,.])\b(?P<year>\d{{3,4}})\b(?![,.]?\d){_ERA}"),
)


def month_number(word: str) -> int | None:
    word = word.lower().rstrip(".")
    for i, month in enumerate(MONTHS, start=1):
        if len(word) >= 3 and month.startswith(word):
            return i
    return None


def find_date(text: str) -> tuple[int, int | None, int | None, int, int] | None:
    """The first date or year in ``text``: (year, month, day, start, end); BC years negative.

    Years are 3-4 digit numbers from 100 to 2100 standing alone ("1879", not "1,879"), or any
    number with an era ("83 BC", "AD 14").
    """
    best = None
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            year = int(m.group("year"))
            if not (1 if m.group("era") else 100) <= year <= 2100:
                continue
            if (m.group("era") or "").upper().startswith("B"):
                year = -year
            month = month_number(m.group("month")) if "month" in m.groupdict() and m.group("month") else None
            day = int(m.group("day")) if "day" in m.groupdict() and m.group("day") else None
            if day is not None and not 1 <= day <= 31:
                continue
            if best is None or m.start() < best[3]:
                best = (year, month, day, m.start(), m.end())
            break  # earlier patterns are more specific; the first hit of each is enough
        if best is not None and best[1] is not None:
            break
    return best


def years_in(text: str) -> list[int]:
    """All years (100-2100, BC negative) mentioned in ``text``, in order."""
    out: list[int] = []
    for m in re.finditer(
        r"(?:\b(AD|A\.D\.)\s+)?(?<![\d,.])\b(\d{1,4})\b(?![,.]?\d)"
        r"(?:\s*(BC|BCE|B\.C\.|AD|CE)\b)?",
        text,
    ):
        year, era = int(m.group(2)), m.group(1) or m.group(3)
        if (1 if era else 100) <= year <= 2100:
            out.append(-year if era and era.startswith("B") else year)
    return out


def date_value(year: int, month: int | None, day: int | None) -> str:
    """ "1879", "1879-03" or "1879-03-14" (negative years keep their sign)."""
    if month is None:
        return str(year)
    return f"{year}-{month:02d}" + (f"-{day:02d}" if day else "")


_NAME_WORD = r"[A-Z][\w'\u2019.-]*"
_PLACE = re.compile(
    rf"\bin\s+(?:the\s+)?(?:(?:[A-Z]\w+\s+)?(?:city|town|village|province|state|region)\s+of\s+)?"
    rf"(?P<place>{_NAME_WORD}(?:\s+(?:(?:de|da|del|do|van|von|of|upon|am|le|la|on)\s+)?{_NAME_WORD})*"
    rf"(?:,\s*{_NAME_WORD}(?:\s+{_NAME_WORD})*)*)"
)


def find_place(text: str) -> tuple[str, int] | None:
    """The first "in <Capitalised Place>" in ``text`` that is not a date: (place, start)."""
    for m in _PLACE.finditer(text):
        place = m.group("place").rstrip(".,")
        first = place.split()[0]
        if first.rstrip(".").replace(".", "") in ("AD", "BC", "BCE", "CE"):
            continue
        if month_number(first) and len(first) >= 3 and first.lower().rstrip(".") in [x[: len(first)] for x in MONTHS]:
            continue
        return place, m.start()
    return None


# ---------------------------------------------------------------------------------------------
# The subject

_PRONOUN_START = re.compile(r"^(He|She|They)\b")
_CLAUSE_PRONOUN = re.compile(r"^(?:he|she)\s+", re.IGNORECASE)
# Possessed nouns that are people of their own: their sentences' pronouns may mean them.
_RELATIVES = frozenset(
    {
        "father",
        "mother",
        "parents",
        "wife",
        "husband",
        "son",
        "daughter",
        "brother",
        "sister",
        "children",
        "family",
        "teacher",
        "mentor",
        "friend",
        "grandfather",
        "grandmother",
        "uncle",
        "aunt",
        "partner",
        "spouse",
        "siblings",
        "students",
    }
)
_POSSESSIVE_START = re.compile(r"^(His|Her|Their)\b")
_META = re.compile(
    r"^(sure|here is|here's|here are|i hope|note:|i'm sorry|i am sorry|as an ai|i don't|"
    r"i do not|i cannot|unfortunately|let me know)",
    re.IGNORECASE,
)


def name_variants(name: str) -> list[str]:
    """Ways a bio refers to the subject: full name, first + last, last name, first name."""
    clean = re.sub(r"\s*\([^()]*\)", "", name).strip()
    tokens = clean.split()
    variants = [clean]
    if len(tokens) > 2:
        variants.append(f"{tokens[0]} {tokens[-1]}")
    if len(tokens) > 1:
        variants += [tokens[-1], tokens[0]]
    return [v for v in dict.fromkeys(variants) if len(v) >= 3]


def _subject_prefix(sentence: str, name: str) -> tuple[str, str] | None:
    """("subject", rest) when the sentence is about the subject, ("possessive", rest) when it is
    about something of the subject ("His father ..."), None otherwise."""
    if m := _PRONOUN_START.match(sentence):
        return "subject", sentence[m.end() :]
    if sentence.startswith("Born "):  # "Born in 1839 in Stuttgart, Emil was ..."
        names = "|".join(re.escape(v) for v in name_variants(name))
        if m := re.match(rf"^Born\b(?P<born>.*?),\s+(?:he|she|{names})(?:\s+[A-Z][\w.'-]*)*\s+(?P<rest>.*)$", sentence):
            return "subject", f"was born{m.group('born')}; {m.group('rest')}"
    if m := _POSSESSIVE_START.match(sentence):
        return "possessive", sentence[m.end() :]
    for variant in dict.fromkeys([name, *name_variants(name)]):
        # the name, maybe with more of it ("Charles Robert Darwin") or life years after it
        pattern = re.compile(
            rf"^(?:[A-Z][\w.'-]*\s+)*?{re.escape(variant)}(?:\s+[A-Z][\w.'-]*)*"
            rf"(?P<poss>['\u2019]s)?"
        )
        if m := pattern.match(sentence):
            return ("possessive" if m.group("poss") else "subject"), sentence[m.end() :]
    for variant in name_variants(name):
        if re.search(rf"\b{re.escape(variant)}\b", sentence):
            return "mention", sentence
    return None


_TOPIC_PRONOUN_START = re.compile(r"^(?:It|They)\b(?P<contracted>['\u2019](?:s|re)\b)?")
_TOPIC_POSSESSIVE_START = re.compile(r"^(Its|Their)\b")
_TOPIC_CLAUSE_PRONOUN = re.compile(r"^(?:it|they)\s+", re.IGNORECASE)


def _topic_forms(name: str) -> str | None:
    """A pattern of the ways an answer writes a topic's title: "Volcano", "volcanoes", "libraries"."""
    clean = re.sub(r"\s*\([^()]*\)", "", name).strip()
    if not clean:
        return None
    forms = [re.escape(clean) + r"(?:e?s)?"]
    if clean.endswith("y"):
        forms.append(re.escape(clean[:-1]) + "ies")
    return "(?:" + "|".join(forms) + ")"


def _topic_prefix(sentence: str, name: str) -> tuple[str, str, str] | None:
    """(kind, rest, subject as written) of a sentence about a topic, None when it is not about it.

    A topic's title is mostly a common noun: answers write it in lower case after an article
    ("A volcano is ..."), in the plural ("Volcanoes are ...") or as "It", forms a person's name
    never takes, which is why they are matched only here. Only the full title counts: its last
    word alone ("war" of "American Civil War") may mean something else.
    """
    clean = re.sub(r"\s*\([^()]*\)", "", name).strip()
    if m := _TOPIC_PRONOUN_START.match(sentence):
        verb = {"'s": " is", "'re": " are"}.get((m.group("contracted") or "").replace("\u2019", "'"), "")
        return "subject", verb + sentence[m.end() :], clean
    if m := _TOPIC_POSSESSIVE_START.match(sentence):
        return "possessive", sentence[m.end() :], clean
    forms = _topic_forms(name)
    if forms is None:
        return None
    named = rf"(?P<subject>{forms})\b(?P<poss>['\u2019]s\b)?"
    if m := re.match(rf"^(?:(?:a|an|the)\s+)?{named}", sentence, re.IGNORECASE):
        subject = m.group("subject")
        return ("possessive" if m.group("poss") else "subject"), sentence[m.end() :], subject[0].upper() + subject[1:]
    if re.search(rf"\b{named}", sentence, re.IGNORECASE):
        return "mention", sentence, clean
    return None


# ---------------------------------------------------------------------------------------------
# The rules extractor

_CLAUSE_SPLIT = re.compile(
    r"\s*(?:;|,?\s+and\s+(?=(?:was|is|became|won|received|served|studied|worked|died|moved|married|wrote|"
    r"published|developed|made|later|also|then|he|she|spent|lived|taught|founded|joined|went|began|"
    r"continued|has|had|earned|graduated|attended|returned|left|produced|directed|starred|played|"
    r"composed|painted|invented|discovered|led|ruled|remained)\b)|,\s+(?:where|when)\s+(?:he|she)\s+)\s*"
)
_COPULA = re.compile(
    r"^,?\s*(?:\([^()]*\)\s*,?\s*)?(?P<verb>was|is|became|remains|remained)\s+"
    r"(?:(?:also|later|once|originally|primarily|mainly)\s+)?(?P<art>an?\s+|the\s+)?(?P<np>.*)$"
)
# Praise that qualifies an occupation without being part of it ("a renowned and prolific poet").
_EVALUATIVE = frozenset(
    {
        "renowned",
        "famous",
        "great",
        "prominent",
        "notable",
        "leading",
        "influential",
        "celebrated",
        "popular",
        "successful",
        "prolific",
        "talented",
        "skilled",
        "gifted",
        "brilliant",
        "accomplished",
        "dedicated",
        "acclaimed",
        "legendary",
        "well-known",
        "respected",
        "distinguished",
        "eminent",
        "important",
        "beloved",
        "highly",
        "very",
        "most",
        "world-renowned",
        "internationally",
        "widely",
        "passionate",
    }
)
# Single words that qualify an occupation rather than name one ("a renowned and prolific painter").
_ADJECTIVE = re.compile(
    r"^(?:\w+(?:ed|ful|ous|ive|ic|ent|ant|able|ible|ary)|renowned|famous|great|"
    r"prominent|notable|leading|influential|celebrated|popular|successful|prolific|"
    r"talented|skilled|gifted|brilliant|well|highly|very|most)$",
    re.IGNORECASE,
)
_NP_STOP = re.compile(
    r"\s+(?=(?:who|which|that|known|best|whose|from|with|for|in|at|during|of|on|by|"
    r"widely|considered|regarded|born|and\s+(?:is|was|has|had)|between|until|after|"
    r"before|to)\b)|[;:]|\.$|,\s+(?=(?:who|which|whose|known|best|widely|considered|born|"
    r"and\s+(?:is|was)|where|when)\b)"
)
_LIFE_PARENS = re.compile(r"^\s*\((?P<inner>[^()]*\d[^()]*)\)")
_AWARD = re.compile(
    r"\b(?:won|received|was awarded|awarded|earned|got)\s+(?:the\s+|a\s+|an\s+)?"
    r"(?P<award>(?:[A-Z][\w'\u2019.-]*\s+)*?(?:Prize|Award|Medal|Oscar|Grammy)s?)"
    r"(?:\s+(?:in|for)\s+(?P<field>[A-Z]?[a-z]+(?:\s+or\s+[A-Z]?[a-z]+|\s+[A-Z][a-z]+)*))?"
    r"(?:\s+(?:in|of)\s+(?P<year>\d{4}))?"
)


def _fact(
    response_id: str, sentence_index: int, position: int, text: str, slot: str | None, value: str | None, sentence: str
) -> AtomicFact:
    text = " ".join(text.split()).strip(" ,;")
    if not text.endswith((".", "!", "?")):
        text += "."
    return AtomicFact(
        response_id=response_id,
        sentence_index=sentence_index,
        position=position,
        text=text[0].upper() + text[1:],
        slot=slot,
        value=value,
        sentence=sentence,
    )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _life_parens(inner: str) -> list[tuple[str, int, int | None, int | None]]:
    """Slots from "(1879–1955)", "(born March 14, 1879)", "(March 14, 1879 – April 18, 1955)"."""
    inner = inner.strip()
    if re.match(r"^(?:born|b\.)\s", inner):
        date = find_date(inner)
        return [("birth", *date[:3])] if date else []
    parts = re.split(r"\s*[\u2013\u2014-]\s*|\s+to\s+", inner, maxsplit=1)
    if len(parts) != 2:
        return []
    out = []
    for kind, part in zip(("birth", "death"), parts):
        date = find_date(part)
        if date and not part.strip().startswith(("c.", "ca.", "circa")):
            out.append((kind, *date[:3]))
    if len(out) == 2 and out[0][1] > out[1][1]:
        return []
    return out


def _date_facts(kind: str, name: str, year: int, month: int | None, day: int | None) -> tuple[str, str, str]:
    """(slot, value, text) of a birth/death date or year claim."""
    verb = "was born" if kind == "birth" else "died"
    shown = f"{abs(year)} BC" if year < 0 else f"AD {year}" if year < 100 else str(year)
    if month is None:
        return f"{kind}_year", str(year), f"{name} {verb} in {shown}."
    month_name = MONTHS[month - 1].capitalize()
    when = f"on {month_name} {day}, {shown}" if day else f"in {month_name} {shown}"
    return f"{kind}_date", date_value(year, month, day), f"{name} {verb} {when}."


def _strip_praise(words: list[str]) -> list[str]:
    while len(words) > 1 and words[0].lower() in _EVALUATIVE:
        words = words[1:]
    return words


def _split_list(np: str) -> list[str]:
    items = re.split(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*/\s*", np)
    return [i.strip() for i in items if i.strip()]


def _copula_facts(name: str, rest: str) -> tuple[list[tuple[str, str | None, str | None]], str]:
    """Nationality and occupation claims of "<name> was a French painter and poet, who ...".

    Returns the claims and the part of the clause left after the noun phrase.
    """
    m = _COPULA.match(rest)
    if not m or m.group("np").lower().startswith(
        ("one of", "widely", "considered", "regarded", "known", "born", "the son", "the daughter", "also")
    ):
        return [], rest
    verb = m.group("verb") if m.group("verb") in ("is", "was") else "was"
    np_full = m.group("np")
    stop = _NP_STOP.search(np_full)
    np, tail = (np_full[: stop.start()], np_full[stop.start() :]) if stop else (np_full, "")
    words = np.split()
    while words and (words[0].lower().strip(",") in _EVALUATIVE or (words[0] == "and" and len(words) > 1)):
        words = words[1:]  # "renowned and prolific Polish poet" -> "Polish poet"
    claims: list[tuple[str, str | None, str | None]] = []
    # leading nationalities: "German-born", "French and Swiss", "South African"
    nationalities: list[str] = []
    i = 0
    words = [re.sub(r"^naturali[sz]ed[\u2013-]", "", w) for w in words]  # "naturalised-French"
    while i < len(words):
        if i + 1 < len(words) and f"{words[i]} {words[i + 1]}".strip(",") in DEMONYMS:
            nationalities.append(f"{words[i]} {words[i + 1]}".strip(","))
            i += 2
        elif is_demonym(words[i].strip(",")):
            nationalities.append(re.sub(r"[\u2013-]born$", "", words[i].strip(",")))
            i += 1
        elif words[i].lower() in ("and", "-") and nationalities and i + 1 < len(words) and is_demonym(words[i + 1]):
            i += 1
        else:
            break
    article = (m.group("art") or "").strip()
    if not nationalities and article != "a" and article != "an":
        # "was raised by ...", "was the first woman to ...": not a kind of person
        return [], rest
    for nat in nationalities:
        claims.append((f"{name} {verb} {nat}.", "nationality", nat))
    occupations = [re.sub(r"^(?:an?|the)\s+", "", o) for o in _split_list(re.sub(r"^and\s+", "", " ".join(words[i:])))]
    occupations = [" ".join(_strip_praise(o.split())) for o in occupations]
    # a lone adjective among several items qualifies the others ("renowned and prolific poet");
    # alone it names the person ("a revolutionary")
    nouns = [o for o in occupations if o and not (len(o.split()) == 1 and _ADJECTIVE.match(o))]
    occupations = nouns or occupations
    for occ in occupations:
        occ_words = occ.split()
        if not occ_words or len(occ_words) > 4 or any(w[:1].isdigit() for w in occ_words):
            continue
        if occ_words[-1][:1].isupper() and not occ_words[-1].isupper():
            continue  # a proper name ("a Prussian family" keeps; "the Beatles" does not)
        claims.append((f"{name} {verb} {_article(occ)} {occ}.", "occupation", occ))
    if not claims:
        return [], rest
    # what follows the noun phrase ("who developed ...", "known for ...") stays a clause
    tail = tail.strip(" ,")
    if re.match(r"^(?:who|which|that)\s+", tail):
        tail = re.sub(r"^(?:who|which|that)\s+", "", tail)
    elif re.match(r"^(?:known|best|widely|considered|regarded)\b", tail):
        tail = f"{verb} {tail}"
    elif tail and occupations:
        tail = f"{verb} {_article(occupations[-1])} {occupations[-1]} {tail}"
    return claims, tail


def _clause_facts(name: str, clause: str) -> tuple[list[tuple[str, str | None, str | None]], str]:
    """Slot claims of one clause about the subject, and the text left over for a generic claim."""
    claims: list[tuple[str, str | None, str | None]] = []
    rest = clause
    if life := _LIFE_PARENS.match(rest):
        for kind, year, month, day in _life_parens(life.group("inner")):
            slot, value, text = _date_facts(kind, name, year, month, day)
            claims.append((text, slot, value))
        rest = rest[life.end() :]
    for kind, trigger in (("birth", r"(?<![-\w])(?:was\s+)?born\b"), ("death", r"\b(?:died|passed away)\b")):
        if m := re.search(trigger, rest):
            after = rest[m.end() :]
            end = re.search(r"\s+(?:to|and|where|after|at the age|as|into|but|while)\b|[;]", after)
            window = after[: end.start()] if end else after
            if date := find_date(window):
                slot, value, text = _date_facts(kind, name, *date[:3])
                claims.append((text, slot, value))
            if place := find_place(window):
                verb = "was born" if kind == "birth" else "died"
                claims.append((f"{name} {verb} in {place[0]}.", f"{kind}_place", place[0]))
            if any(c[1] and c[1].startswith(kind) for c in claims):
                tail = (after[end.start() :] if end else "").strip(" ,")
                if tail.startswith(("to ", "into ", "as ")):  # "born ... to a family of ..." stays a claim
                    tail = ("was born " if kind == "birth" else "died ") + tail
                rest = (rest[: m.start()] + " " + tail).strip(" ,")
    if m := _AWARD.search(rest):
        award = m.group("award")
        if "nobel" in award.lower():
            field = m.group("field")
            if field and field.lower() not in ("recognition", "his", "her", "the", "his work"):
                claims.append((f"{name} received the Nobel Prize in {field}.", "field", field.lower()))
            if m.group("year"):
                claims.append((f"{name} received the Nobel Prize in {m.group('year')}.", "prize_year", m.group("year")))
            if not field and not m.group("year"):
                claims.append((f"{name} received the Nobel Prize.", "award", award))
        else:
            claims.append(
                (
                    f"{name} received the {award}."
                    if not m.group("year")
                    else f"{name} received the {award} in {m.group('year')}.",
                    "award",
                    award,
                )
            )
        after = rest[m.end() :].strip(" ,")
        if after.startswith("for "):  # "... awarded the Nobel Prize in 1918 for his work on X"
            end = re.search(r"[;,]|\s+and\s+(?:he|she)\b", after)
            reason = after[: end.start()] if end else after
            claims.append((f"{name} received the {award} {reason.rstrip('. ')}.", None, None))
            after = after[len(reason) :]
        rest = (rest[: m.start()] + " " + after).strip(" ,")
    copula, rest_after = _copula_facts(name, rest)
    if copula:
        claims += copula
        rest = rest_after
    return claims, rest


def _generic_text(name: str, kind: str, rest: str) -> str | None:
    """A leftover clause as a claim about the subject, or None when nothing is claimed."""
    rest = rest.strip(" ,;.")
    words = re.findall(r"[A-Za-z0-9]+", rest)
    if not [w for w in words if w.lower() not in ("he", "she", "was", "is", "the", "a", "an", "and")]:
        return None
    if kind == "possessive":
        return f"{name}'s {rest}"
    if kind == "mention":
        return rest
    if re.match(r"^(?:and|but|also|then)\b", rest):
        rest = re.sub(r"^(?:and|but|also|then)\s+", "", rest)
    return f"{name} {rest}"


def extract_facts_rules(
    response: str, name: str, response_id: str = "", drop_truncated: bool = True, person: bool = True
) -> list[AtomicFact]:
    """Single-claim facts of a bio of ``name``, in reading order, without duplicates.

    Sentences not about the subject (no name, pronoun or possessive of it) are dropped, as are
    meta sentences ("Sure, here is ...") and, with ``drop_truncated``, a last sentence cut off
    by the token limit (no final punctuation).

    ``person=False`` reads an answer about a topic ("Tell me about Volcano."): the subject is
    found as a topic is written (``_topic_prefix``) and every clause is a slot-less claim, since
    the person slots (birth, nationality, occupation) would misread "Volcano is a landform".
    """
    facts: list[AtomicFact] = []
    seen_text: set[str] = set()
    seen_slot: set[tuple[str, str]] = set()
    sentences = split_sentences(response)
    if drop_truncated and sentences and not sentences[-1][1].rstrip().endswith((".", "!", "?", '"', ")")):
        sentences = sentences[:-1]
    for s_index, (offset, sentence) in enumerate(sentences):
        if _META.match(sentence):
            continue
        if person:
            found = _subject_prefix(sentence, name)
            about = None if found is None else (*found, name)
        else:
            about = _topic_prefix(sentence, name)
        if about is None:
            continue
        kind, rest, subject = about
        # a sentence about something of the subject ("His mother ..., and she ...") stays whole:
        # its pronouns need not mean the subject
        possessed = re.sub(r"[^\w]", "", rest.split()[0]).lower() if rest.split() else ""
        whole = kind == "mention" or (kind == "possessive" and possessed in _RELATIVES)
        clauses = [rest] if whole else [c for c in _CLAUSE_SPLIT.split(rest) if c and c.strip()]
        for c_index, clause in enumerate(clauses):
            position = offset + max(sentence.find(clause.strip()[:20]), 0)
            claims: list[tuple[str, str | None, str | None]] = []
            clause_kind = kind
            pronoun = _CLAUSE_PRONOUN if person else _TOPIC_CLAUSE_PRONOUN
            if c_index > 0 and pronoun.match(clause.strip()):
                clause_kind = "subject"  # "His work ..., and he was awarded ..."
            clause = pronoun.sub("", clause.strip()) if clause_kind == "subject" else clause
            leftover = clause
            if clause_kind == "subject" and person:
                claims, leftover = _clause_facts(name, clause)
            generic = _generic_text(subject, clause_kind, leftover)
            if generic:
                claims.append((generic, None, None))
            for text, slot, value in claims:
                key = normalize_answer(text)
                if key in seen_text or (slot and (slot, normalize_answer(str(value))) in seen_slot):
                    continue
                seen_text.add(key)
                if slot:
                    seen_slot.add((slot, normalize_answer(str(value))))
                facts.append(_fact(response_id, s_index, position, text, slot, value, sentence))
    return facts


# ---------------------------------------------------------------------------------------------
# The llm extractor: FActScore's prompt with demonstrations written for this project

LLM_DEMOS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Marie Curie (1867–1934) was a Polish and naturalised-French physicist and chemist.",
        (
            "Marie Curie was born in 1867.",
            "Marie Curie died in 1934.",
            "Marie Curie was Polish.",
            "Marie Curie was a naturalised French citizen.",
            "Marie Curie was a physicist.",
            "Marie Curie was a chemist.",
        ),
    ),
    (
        "He was born on 12 February 1809 in Shrewsbury, England, the fifth of six children.",
        (
            "He was born on 12 February 1809.",
            "He was born in Shrewsbury.",
            "Shrewsbury is in England.",
            "He was the fifth of six children.",
        ),
    ),
    (
        "In 1921 she received the Nobel Prize in Literature for her novels about rural life.",
        (
            "She received the Nobel Prize in Literature.",
            "She received the Nobel Prize in 1921.",
            "She wrote novels about rural life.",
            "She received the Nobel Prize for her novels about rural life.",
        ),
    ),
    (
        "After studying law at the University of Bologna, he moved to Rome, where he worked as a judge.",
        (
            "He studied law.",
            "He studied at the University of Bologna.",
            "He moved to Rome.",
            "He worked as a judge.",
            "He worked in Rome.",
        ),
    ),
    (
        "Her best-known painting, The Two Fridas, was completed in 1939 and is held in Mexico City.",
        (
            "Her best-known painting is The Two Fridas.",
            "The Two Fridas was completed in 1939.",
            "The Two Fridas is held in Mexico City.",
        ),
    ),
    (
        "She married the composer Robert Schumann and they had eight children.",
        ("She married Robert Schumann.", "Robert Schumann was a composer.", "She had eight children."),
    ),
    (
        "He died of tuberculosis in Paris at the age of 39.",
        ("He died of tuberculosis.", "He died in Paris.", "He died at the age of 39."),
    ),
)

LLM_INSTRUCTION = "Please breakdown the following sentence into independent facts: {}\n"


def build_llm_extraction_prompt(sentence: str, demos: Sequence[tuple[str, Sequence[str]]] = LLM_DEMOS) -> str:
    """FActScore's atomic-fact prompt: demonstrations, then the sentence to break down."""
    parts = []
    for demo_sentence, demo_facts in demos:
        parts.append(LLM_INSTRUCTION.format(demo_sentence) + "".join(f"- {f}\n" for f in demo_facts) + "\n")
    parts.append(LLM_INSTRUCTION.format(sentence.strip()))
    return "".join(parts)


def parse_llm_facts(output: str) -> list[str]:
    """The "- fact" lines of an extraction answer, up to the next instruction or blank line.

    A fact gets a final period; empty and repeated facts are dropped.
    """
    facts: list[str] = []
    started = False
    for line in output.split("\n"):
        stripped = line.strip()
        if stripped.startswith("Please breakdown"):
            break
        if not stripped:
            if started:
                break
            continue
        if not stripped.startswith(("-", "*", "\u2022")):
            if started:
                break
            continue
        started = True
        fact = stripped.lstrip("-*\u2022 ").strip()
        if not fact:
            continue
        if not fact.endswith((".", "!", "?")):
            fact += "."
        if fact not in facts:
            facts.append(fact)
    return facts


def facts_from_llm_outputs(
    response_id: str, sentences: Sequence[tuple[int, str]], outputs: Sequence[str], name: str
) -> list[AtomicFact]:
    """AtomicFact records from one LLM output per sentence; pronoun subjects become ``name``."""
    if len(sentences) != len(outputs):
        raise ValueError(f"{len(sentences)} sentences but {len(outputs)} extraction outputs")
    out: list[AtomicFact] = []
    seen: set[str] = set()
    for s_index, ((offset, sentence), output) in enumerate(zip(sentences, outputs)):
        for text in parse_llm_facts(output):
            text = _PRONOUN_START.sub(name, text)
            text = _POSSESSIVE_START.sub(f"{name}'s", text)
            key = normalize_answer(text)
            if key in seen:
                continue
            seen.add(key)
            out.append(_fact(response_id, s_index, offset, text, None, None, sentence))
    return out
