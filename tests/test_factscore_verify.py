import pytest

from factgap.factscore.atomic import extract_facts_rules
from factgap.factscore.claims import accuracy, build_claims, claim_text, roc_auc
from factgap.factscore.entities import TIER_NOBEL, load_embedded_entities
from factgap.factscore.retrieval import bm25_top_k, entity_passages, retrieve, split_passages
from factgap.factscore.verify import (
    CONTRADICTED,
    NOT_SUPPORTED,
    SUPPORTED,
    LLMCache,
    build_verify_prompt,
    cache_key,
    calibrate_threshold,
    knowledge_slots,
    llm_decision,
    verify_facts_rules,
    verify_rules,
)

CURIE = {
    "entity_id": "t:Marie Curie",
    "name": "Marie Curie",
    "tier": "t",
    "description": "",
    "facts": {
        "nationality": "Polish-French",
        "occupation": "physicist and chemist",
        "birth_year": 1867,
        "death_year": 1934,
        "birth_date": "1867-11-07",
        "birth_place": "Warsaw",
        "country": "Russian Empire (now Poland)",
        "field": "physics",
        "prize_year": 1903,
    },
    "knowledge": [
        "Marie Curie was a Polish and naturalised-French physicist and chemist who conducted "
        "pioneering research on radioactivity. She was the first woman to win a Nobel Prize. "
        "She received the Nobel Prize in Chemistry in 1911 for the discovery of polonium and radium."
    ],
}


def _verdict(text, entity=CURIE, **kw):
    facts = extract_facts_rules(text, entity["name"])
    assert len(facts) == 1, facts
    return verify_rules(facts[0], entity, **kw)


@pytest.mark.parametrize(
    "text, label",
    [
        ("Marie Curie was born in 1867.", SUPPORTED),
        ("Marie Curie was born in 1868.", CONTRADICTED),
        ("Marie Curie was born on November 7, 1867.", SUPPORTED),
        ("Marie Curie was born on March 7, 1867.", CONTRADICTED),
        ("Marie Curie died in 1934.", SUPPORTED),
        ("Marie Curie was born in Warsaw.", SUPPORTED),
        ("Marie Curie was born in Paris.", CONTRADICTED),
        ("Marie Curie was Polish.", SUPPORTED),
        ("Marie Curie was German.", CONTRADICTED),
        ("Marie Curie was a chemist.", SUPPORTED),
        ("Marie Curie was a scientist.", SUPPORTED),  # the general word for a known trade
        ("Marie Curie was a painter.", NOT_SUPPORTED),  # occupations are open lists
        ("Marie Curie received the Nobel Prize in Physics.", SUPPORTED),
        ("Marie Curie received the Nobel Prize in Chemistry.", SUPPORTED),  # her second prize, in the text
        ("Marie Curie received the Nobel Prize in Literature.", CONTRADICTED),
        ("Marie Curie received the Nobel Prize in 1911.", SUPPORTED),
        ("Marie Curie received the Nobel Prize in 1925.", CONTRADICTED),
        ("Marie Curie conducted pioneering research on radioactivity.", SUPPORTED),
        ("Marie Curie conducted pioneering research on volcanoes.", NOT_SUPPORTED),
    ],
)
def test_rules_verifier_on_hand_made_facts(text, label):
    assert _verdict(text)["label"] == label


def test_compound_nationality_needs_every_part():
    assert _verdict("Marie Curie was Polish-French.")["label"] == SUPPORTED
    assert _verdict("Marie Curie was Polish-American.")["label"] != SUPPORTED


def test_scores_order_the_labels():
    good, bad, unknown = (
        _verdict(t)["score"]
        for t in ("Marie Curie was born in 1867.", "Marie Curie was born in 1868.", "Marie Curie was a painter.")
    )
    assert good == 1.0 and bad == 0.0 and 0 < unknown < 1


def test_text_only_knowledge_reads_the_passages():
    slots = knowledge_slots(CURIE, use_structured=False)
    assert "Polish" in " ".join(slots["nationality"]) and "physicist" in slots["occupation"]
    assert "birth_year" not in slots  # the text does not state it
    verdict = _verdict("Marie Curie was born in 1868.", use_structured=False)
    assert verdict["label"] == NOT_SUPPORTED


def test_retrieval_passages_and_bm25():
    doc = " ".join(f"Sentence {i} talks about topic{i}." for i in range(100))
    passages = split_passages(doc, max_words=40)
    assert all(len(p.split()) <= 40 for p in passages) and " ".join(passages) == doc
    assert entity_passages(["short one", doc], max_words=40)[0] == "short one"
    ranked = bm25_top_k(passages, "topic57", k=3)
    assert "topic57" in passages[ranked[0][0]] and len(ranked) == 3
    assert retrieve([doc], "X", "topic3 topic4", k=1, max_words=40)[0].count("topic3") == 1
    assert bm25_top_k([], "x") == []


def test_verify_prompt_is_factscore_shaped():
    prompt = build_verify_prompt("Marie Curie", "Marie Curie was Polish.", ["best passage", "second passage"])
    assert prompt.startswith("Answer the question about Marie Curie based on the given context.\n\n")
    assert prompt.index("second passage") < prompt.index("best passage")  # best nearest the question
    assert prompt.endswith("best passage.\n\nInput: Marie Curie was Polish. True or False?\nOutput:")
    assert "Title: Marie Curie\nText: best passage" in prompt


def test_llm_decision_and_threshold_calibration():
    assert llm_decision(-0.5, -1.0) and not llm_decision(-1.0, -0.5)
    assert not llm_decision(-0.5, -1.0, threshold=0.7)
    # biased to True: every margin positive, the right cut is between 1.5 and 2.5
    margins = [0.5, 1.0, 1.5, 2.5, 3.0, 4.0]
    labels = [False, False, False, True, True, True]
    threshold, acc = calibrate_threshold(margins, labels)
    assert threshold == pytest.approx(2.0) and acc == 1.0
    t0, acc0 = calibrate_threshold([-1.0, 1.0], [False, True])
    assert t0 == pytest.approx(0.0) and acc0 == 1.0
    with pytest.raises(ValueError):
        calibrate_threshold([1.0], [])


def test_llm_cache_keeps_finished_chunks_of_a_killed_job(tmp_path):
    """A job killed during its third chunk of prompts: the rerun computes only what was not written."""
    calls = []

    def dies_on_third_chunk(prompts):
        calls.append(list(prompts))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the job is killed here
        return [len(p) for p in prompts]

    prompts = [f"prompt {i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        LLMCache(tmp_path / "llm").call("m", prompts, {}, dies_on_third_chunk, chunk_size=4)
    rerun_calls = []

    def compute(chunk):
        rerun_calls.append(list(chunk))
        return [len(p) for p in chunk]

    rerun = LLMCache(tmp_path / "llm")
    assert rerun.call("m", prompts, {}, compute, chunk_size=4) == [len(p) for p in prompts]
    assert rerun_calls == [prompts[8:]] and rerun.hits == 8


def test_llm_cache_makes_no_calls_on_rerun(tmp_path):
    calls = []

    def compute(prompts):
        calls.append(list(prompts))
        return [[-0.1 * len(p), -1.0] for p in prompts]

    path = tmp_path / "cache" / "llm"
    cache = LLMCache(path)
    first = cache.call("m", ["a", "bb", "a"], {"temperature": 0}, compute)
    assert cache.misses == 3 and cache.hits == 0 and len(calls) == 1
    again = LLMCache(path)  # a rerun: a new process reading the shards
    second = again.call("m", ["a", "bb"], {"temperature": 0}, compute)
    assert second == first[:2] and again.hits == 2 and again.misses == 0 and len(calls) == 1
    # a different model or parameter is a different call
    assert cache_key("m", "a", {"temperature": 0}) != cache_key("m2", "a", {"temperature": 0})
    assert cache_key("m", "a", {"temperature": 0}) != cache_key("m", "a", {"temperature": 1})
    assert len(cache_key("m", "a", {})) == 64


def test_llm_cache_skips_torn_and_foreign_lines(tmp_path, caplog):
    path = tmp_path / "llm"
    LLMCache(path).put_many([("k1", 1.0), ("k2", [0.5, -1.0])])
    (shard,) = path.glob("*.jsonl")
    with open(shard, "a") as handle:  # valid JSON that is not an entry, then a killed job's half line
        handle.write('["k3", 3]\n{"value": 4}\n"text"\n{"key": "torn')
    with caplog.at_level("WARNING"):
        cache = LLMCache(path)
    assert len(cache) == 2 and cache.get("k2") == [0.5, -1.0] and cache.skipped == 4
    assert "4 damaged or torn line(s) skipped" in caplog.text
    # the legacy single file beside the folder is still read
    (tmp_path / "llm.jsonl").write_text('{"key": "old", "value": 7}\n')
    assert LLMCache(path).get("old") == 7


def _write_entries(path, worker, n):
    cache = LLMCache(path)
    for i in range(n):  # many small appends, as a verification job makes them
        cache.put(f"w{worker}-{i}", {"worker": worker, "i": i, "pad": "x" * 500})


def test_llm_cache_concurrent_writers(tmp_path):
    """Four processes write at once: each into its own shard, so no line is interleaved or lost."""
    import multiprocessing

    path = tmp_path / "shared" / "llm"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_entries, args=(path, w, 200)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    cache = LLMCache(path)
    assert len(cache) == 800 and cache.skipped == 0 and len(list(path.glob("*.jsonl"))) == 4
    assert cache.get("w3-199") == {"worker": 3, "i": 199, "pad": "x" * 500}


# --- metrics -------------------------------------------------------------------------------


def test_auc_rank_based_with_ties():
    # by hand: pairs (pos, neg) with pos > neg count 1, ties 1/2
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert roc_auc([1, 1, 0, 0], [True, False, True, False]) == pytest.approx(0.5)
    assert roc_auc([0.5, 0.5, 0.5], [True, False, True]) == pytest.approx(0.5)
    assert roc_auc([3, 2, 1], [True, True, False]) == 1.0
    assert roc_auc([1, 2, 3], [True, True, False]) == 0.0
    # 2 positives {0.9, 0.5}, 3 negatives {0.5, 0.2, 0.1}: 0.9 beats 3; 0.5 beats 2 and ties 1 -> 5.5 / 6
    assert roc_auc([0.9, 0.5, 0.5, 0.2, 0.1], [True, True, False, False, False]) == pytest.approx(5.5 / 6)
    with pytest.raises(ValueError):
        roc_auc([1, 2], [True, True])
    assert accuracy([True, False, True], [True, True, True]) == pytest.approx(2 / 3)


# --- the claim set from the real embedded data -----------------------------------------------


@pytest.fixture(scope="module")
def claim_sample():
    entities = sorted(load_embedded_entities(), key=lambda e: e["entity_id"])[
        ::10
    ]  # every 10th person: a fixed subsample
    claims = build_claims(entities, seed=0)
    return entities, claims


def _measure(entities, claims, use_structured):
    by_id = {e["entity_id"]: e for e in entities}
    known = {}
    scores, preds, labels, tiers = [], [], [], []
    for claim in claims:
        entity = by_id[claim["entity_id"]]
        if entity["entity_id"] not in known:
            known[entity["entity_id"]] = knowledge_slots(entity, use_structured=use_structured)
        facts = extract_facts_rules(claim["text"], entity["name"])
        verdict = verify_rules(facts[0], entity, known=known[entity["entity_id"]])
        scores.append(verdict["score"])
        preds.append(verdict["label"] == SUPPORTED)
        labels.append(claim["label"])
        tiers.append(claim["tier"])
    return scores, preds, labels, tiers


def test_claim_set_is_balanced_split_and_seeded(claim_sample):
    entities, claims = claim_sample
    assert len(claims) > 1000 and sum(c["label"] for c in claims) * 2 == len(claims)
    assert {c["split"] for c in claims} == {"dev", "test"}
    split_of = {}
    for c in claims:
        assert split_of.setdefault(c["entity_id"], c["split"]) == c["split"]  # by entity
    assert build_claims(entities, seed=0) == claims and build_claims(entities, seed=1) != claims
    assert claim_text("Ada Lovelace", "occupation", "engineer") == "Ada Lovelace was an engineer."
    assert claim_text("Cicero", "birth_year", -106) == "Cicero was born in 106 BC."


def test_rules_verifier_accuracy_on_real_claims(claim_sample):
    entities, claims = claim_sample
    # every claim round-trips through the extractor to one fact with the claim's slot
    name = {e["entity_id"]: e["name"] for e in entities}
    ok = sum(
        1 for c in claims if [f["slot"] for f in extract_facts_rules(c["text"], name[c["entity_id"]])] == [c["slot"]]
    )
    assert ok / len(claims) > 0.95
    scores, preds, labels, _ = _measure(entities, claims, use_structured=True)
    assert accuracy(preds, labels) > 0.8 and roc_auc(scores, labels) > 0.9
    # from the knowledge texts alone (lead paragraphs omit most life years): weaker, still useful
    scores, preds, labels, tiers = _measure(entities, claims, use_structured=False)
    assert accuracy(preds, labels) > 0.75 and roc_auc(scores, labels) > 0.8
    nobel = [(p, y) for p, y, t in zip(preds, labels, tiers) if t == TIER_NOBEL]
    assert accuracy([p for p, _ in nobel], [y for _, y in nobel]) > 0.95  # its document states every slot


def test_verify_many_facts_of_one_entity():
    facts = extract_facts_rules("Marie Curie was born in 1867. She was a painter.", "Marie Curie")
    assert [v["label"] for v in verify_facts_rules(facts, CURIE)] == [SUPPORTED, NOT_SUPPORTED]
