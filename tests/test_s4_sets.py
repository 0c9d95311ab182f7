"""S4 training sets: HAR / INC / SELF, consistency mixtures, contextualized IFT, mixing, SFT records."""

import pytest

from factgap.s4 import sets as S


def row(i, gold, pred, p):
    probs = [(1 - p) / 3] * 4
    probs[pred] = p
    return {
        "id": f"q{i:03d}",
        "question": f"Question {i}?",
        "choices": ["w", "x", "y", "z"],
        "answer_index": gold,
        "prediction": pred,
        "max_prob": p,
        "confident": p > 0.5,
        "correct": pred == gold,
        "probs": probs,
    }


def probe(n_right_sure, n_wrong_sure, n_unsure=5):
    rows = [row(i, 0, 0, 0.9) for i in range(n_right_sure)]
    rows += [row(100 + i, 1, 2, 0.8) for i in range(n_wrong_sure)]
    rows += [row(200 + i, 0, 3, 0.4) for i in range(n_unsure)]  # not confident: in no set
    return rows


def test_sets_equal_size_confident_only_and_self_is_inc_with_own_answer():
    rows = probe(20, 7)
    sets, summary = S.build_sets(rows, seed=1)
    assert {k: len(v) for k, v in sets.items()} == {"HAR": 7, "INC": 7, "SELF": 7}
    assert summary["n_confident_right"] == 20 and summary["n_confident_wrong"] == 7 and summary["limited_by"] == "INC"
    assert all(it["target_index"] == it["answer_index"] == 0 for it in sets["HAR"])
    assert all(it["target_index"] == it["answer_index"] == 1 for it in sets["INC"])
    assert all(it["target_index"] == it["prediction"] == 2 for it in sets["SELF"])
    assert [it["id"] for it in sets["SELF"]] == [it["id"] for it in sets["INC"]]
    all_ids = {it["id"] for v in sets.values() for it in v}
    assert not any(i.startswith("q2") for i in all_ids)  # unconfident items never enter


def test_sets_are_seeded_and_order_independent():
    rows = probe(40, 10)
    a, _ = S.build_sets(rows, seed=3)
    b, _ = S.build_sets(list(reversed(rows)), seed=3)
    c, _ = S.build_sets(rows, seed=4)
    assert [x["id"] for x in a["HAR"]] == [x["id"] for x in b["HAR"]]
    assert [x["id"] for x in a["HAR"]] != [x["id"] for x in c["HAR"]]


def test_fewer_har_than_inc_samples_inc_and_self_down():
    sets, summary = S.build_sets(probe(4, 9), seed=0)
    assert {k: len(v) for k, v in sets.items()} == {"HAR": 4, "INC": 4, "SELF": 4}
    assert summary["limited_by"] == "HAR" and "INC and SELF sampled down to 4" in summary["note"]
    assert [x["id"] for x in sets["INC"]] == [x["id"] for x in sets["SELF"]]


def test_threshold_rederives_confidence_and_rejects_duplicate_ids():
    rows = probe(6, 6)
    sets, summary = S.build_sets(rows, seed=0, threshold=0.85)  # only the 0.9 rows stay confident
    assert summary["n_confident_wrong"] == 0 and summary["set_size"] == 0 and sets["HAR"] == []
    with pytest.raises(ValueError, match="repeat"):
        S.build_sets(rows + rows[:1], seed=0)


def test_consistency_mixture_sizes_and_nesting():
    sets, _ = S.build_sets(probe(30, 21), seed=0)
    inc, own = sets["INC"], sets["SELF"]
    switched = {}
    for f in (0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1):
        mixed = S.consistency_mixture(inc, own, f, seed=7)
        assert sorted(m["id"] for m in mixed) == sorted(x["id"] for x in inc)
        switched[f] = {m["id"] for m in mixed if m["set"] == "SELF"}
        assert len(switched[f]) == S.round_half_up(f * 21)
        for m in mixed:
            assert m["target_index"] == (2 if m["id"] in switched[f] else 1)
    fs = sorted(switched)
    assert all(switched[a] <= switched[b] for a, b in zip(fs, fs[1:]))
    assert len(switched[0.1]) == 2 and len(switched[0.6]) == 13 and len(switched[1]) == 21
    assert switched[0.4] != {m["id"] for m in S.consistency_mixture(inc, own, 0.4, seed=8) if m["set"] == "SELF"}
    with pytest.raises(ValueError):
        S.consistency_mixture(inc, own[:-1], 0.5, seed=0)
    with pytest.raises(ValueError):
        S.consistency_mixture(inc, own, 1.5, seed=0)


def test_explanations_context_records_and_sft():
    sets, _ = S.build_sets(probe(3, 3), seed=0)
    inc = sets["INC"]
    explained = S.attach_explanations(inc, {(x["id"], 1): f"because {x['id']}" for x in inc})
    with pytest.raises(KeyError):
        S.attach_explanations(sets["SELF"], {(x["id"], 1): "gold only" for x in inc})
    ctx = S.contextualize(explained, {x["id"]: f"Evidence for {x['id']}." for x in inc})
    records = S.to_instruction_records(ctx, "geography")
    assert records[0]["instruction"].startswith(
        "The following are multiple choice questions about geography. Given the context."
    )
    assert f"Evidence for {inc[0]['id']}." in records[0]["instruction"]
    assert records[0]["response"] == f"B. x\nExplanation: because {inc[0]['id']}"
    plain = S.to_instruction_records(explained, "geography")
    assert "Evidence" not in plain[0]["instruction"] and plain[0]["instruction"].endswith("\nAnswer:")
    with pytest.raises(KeyError):
        S.contextualize(inc, {})
    sft = S.to_sft_records(records)
    assert sft[0]["prompt"] == [{"role": "user", "content": records[0]["instruction"]}]
    assert sft[0]["completion"] == [{"role": "assistant", "content": records[0]["response"]}]
    assert S.to_sft_records(records, conversational=False)[0] == {
        "prompt": records[0]["instruction"] + "\n",  # what the 0-shot test renders without a chat template
        "completion": records[0]["response"],
    }


def test_mix_general_one_to_one_seeded():
    domain = [{"id": f"d{i}", "set": "INC", "instruction": f"i{i}", "response": f"r{i}"} for i in range(5)]
    general = [{"instruction": f"g{i}", "response": f"gr{i}"} for i in range(12)]
    a = S.mix_general(domain, general, seed=0)
    assert len(a) == 10 and sum(r["set"] == "general" for r in a) == 5
    assert {r["id"] for r in a if r["set"] == "INC"} == {f"d{i}" for i in range(5)}
    assert a == S.mix_general(domain, general, seed=0)
    assert [r["id"] for r in a] != [r["id"] for r in S.mix_general(domain, general, seed=1)]
    assert len(S.mix_general(domain, general, seed=0, ratio=2.0)) == 15
    with pytest.raises(ValueError, match="need 5"):
        S.mix_general(domain, general[:4], seed=0)
    with pytest.raises(ValueError, match="lacks"):
        S.mix_general(domain, general + [{"instruction": "", "response": "x"}], seed=0)
