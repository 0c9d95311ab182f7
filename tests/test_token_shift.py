"""Token distribution shift (AlignTDS): ranks on hand-made logits (ties included), categories, pooled
ratios, and the shell on the embedded model, whose own greedy answers must be unshifted under itself
while odd text is shifted."""

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from factgap.factscore.pipeline import BIO_SCHEMA
from factgap.io import write_parquet
from factgap.preference import token_shift as T

MESSAGES = ["Tell me a bio of Marie Curie.", "What is a volcano?", "Name three colours."]
ODD = "Zebra quantum marmalade sideways 1234 purple telescope ocean wobble."


# ---- pure core ----------------------------------------------------------------------------------
def test_rank_is_one_plus_the_strictly_greater_logits():
    logits = torch.tensor([[0.1, 2.0, 0.5, -1.0], [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0], [0.5, -0.5, 0.25, 0.0]])
    assert T.token_ranks(logits, torch.tensor([1, 0, 2, 3])).tolist() == [1, 4, 2, 3]
    assert T.token_ranks(logits, torch.tensor([1, 0, 2, 3])).dtype == torch.long
    with pytest.raises(ValueError):
        T.token_ranks(logits, torch.tensor([1, 0]))


def test_ties_favour_the_target():
    logits = torch.tensor([[3.0, 3.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [5.0, 2.0, 2.0, 2.0]])
    # a tie for the top is rank 1 for either token; equal logits below a larger one share its rank + 1
    assert T.token_ranks(logits, torch.tensor([1, 3, 2])).tolist() == [1, 1, 2]
    assert T.token_ranks(logits, torch.tensor([0, 0, 3])).tolist() == [1, 1, 2]


def test_categories():
    assert [T.shift_category(r) for r in (1, 2, 3, 4, 50_000)] == [
        "unshifted",
        "marginal",
        "marginal",
        "shifted",
        "shifted",
    ]
    assert [T.shift_category(r, marginal_max=1) for r in (1, 2)] == ["unshifted", "shifted"]
    assert T.shift_category(10, marginal_max=10) == "marginal"
    for bad in (0, -1):
        with pytest.raises(ValueError):
            T.shift_category(1, marginal_max=bad)
        with pytest.raises(ValueError):
            T.count_categories([], marginal_max=bad)  # validated even without a token
    with pytest.raises(ValueError):
        T.shift_category(0)


def test_counts_and_pooled_ratios():
    a = T.count_categories([1, 1, 2, 9])
    b = T.count_categories(torch.tensor([1, 5]))
    assert a == {"n_unshifted": 2, "n_marginal": 1, "n_shifted": 1, "n_tokens": 4}
    assert b == {"n_unshifted": 1, "n_marginal": 0, "n_shifted": 1, "n_tokens": 2}
    assert T.count_categories([]) == {"n_unshifted": 0, "n_marginal": 0, "n_shifted": 0, "n_tokens": 0}
    ratios = T.shift_ratios([a, b])
    assert ratios["unshifted"] == pytest.approx(3 / 6) and ratios["marginal"] == pytest.approx(1 / 6)
    assert ratios["shifted"] == pytest.approx(2 / 6)
    assert ratios["n_tokens"] == 6 and ratios["n_responses"] == 2  # pooled over tokens, not averaged per answer
    empty = T.shift_ratios([])
    assert math.isnan(empty["shifted"]) and empty["n_tokens"] == 0 and empty["n_responses"] == 0
    with pytest.raises(ValueError):
        T.shift_ratios([{**a, "n_tokens": 5}])


# ---- shell on the embedded model ----------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def own_answers(embedded_model):
    """The base model's own greedy answers to MESSAGES, as generate_bios_file renders and stores them."""
    from factgap.backends import make_backend
    from factgap.prompts import chat_prompt

    engine = make_backend("hf", embedded_model, stop=(), show_progress=False)
    prompts = [chat_prompt(engine.tokenizer, m, True) for m in MESSAGES]
    return [g.strip() for g in engine.greedy(prompts, max_new_tokens=32, batch_size=3)]


def bio_file(path, rows):
    write_parquet(pa.Table.from_pylist(rows, schema=BIO_SCHEMA), path)
    return path


def test_response_tokens_follow_the_rendered_prompt(embedded_model):
    from factgap.io import read_json
    from factgap.models import load_tokenizer
    from factgap.prompts import chat_prompt

    tokenizer = load_tokenizer(read_json(embedded_model))
    for use_template in (True, False):
        prompt = chat_prompt(tokenizer, MESSAGES[0], use_template)
        ids, start = T.response_token_ids(tokenizer, prompt, "Marie Curie was a physicist.")
        assert ids[:start] == tokenizer(prompt)["input_ids"]
        assert tokenizer.decode(ids[start:]) == "Marie Curie was a physicist."


def test_base_models_own_greedy_answers_are_unshifted_and_odd_text_is_shifted(embedded_model, own_answers, tmp_path):
    assert all(own_answers)
    greedy = [
        {"response_id": f"e{i}#g", "entity_id": f"e{i}", "sample": -1, "prompt": m, "text": g}
        for i, (m, g) in enumerate(zip(MESSAGES, own_answers))
    ]
    ignored = [
        {"response_id": "e0#s0", "entity_id": "e0", "sample": 0, "prompt": MESSAGES[0], "text": ODD},
        {"response_id": "empty#g", "entity_id": "empty", "sample": -1, "prompt": MESSAGES[0], "text": ""},
    ]
    odd = [{"response_id": "odd#g", "entity_id": "odd", "sample": -1, "prompt": MESSAGES[0], "text": ODD}]
    files = {
        "in_domain": bio_file(tmp_path / "own.parquet", greedy + ignored),
        "out_of_domain": bio_file(tmp_path / "odd.parquet", odd),
    }

    summary = T.measure_token_shift_file(
        embedded_model, files, tmp_path / "shift.parquet", chat_template=True, batch_size=2, max_tokens=5
    )
    own, shifted = summary["in_domain"], summary["out_of_domain"]
    assert own["n_responses"] == 3 and own["n_tokens"] >= 3 * 10
    assert own["unshifted"] > 0.85 and own["shifted"] < 0.1, own
    assert shifted["n_responses"] == 1 and shifted["shifted"] > max(0.5, own["shifted"] + 0.4), shifted

    table = pq.read_table(tmp_path / "shift.parquet")
    assert table.schema.equals(T.TOKEN_SHIFT_SCHEMA)
    rows = table.to_pylist()
    assert [(r["domain"], r["response_id"]) for r in rows] == [
        ("in_domain", "e0#g"),
        ("in_domain", "e1#g"),
        ("in_domain", "e2#g"),
        ("out_of_domain", "odd#g"),
    ]
    for r in rows:
        assert r["n_unshifted"] + r["n_marginal"] + r["n_shifted"] == r["n_tokens"]
        assert len(r["ranks"]) == min(5, r["n_tokens"]) and min(r["ranks"]) >= 1

    # batching (right padding, length-sorted batches) does not change a rank
    T.measure_token_shift_file(embedded_model, files, tmp_path / "one.parquet", chat_template=True, batch_size=1)
    T.measure_token_shift_file(embedded_model, files, tmp_path / "all.parquet", chat_template=True, batch_size=4)
    one, full = pq.read_table(tmp_path / "one.parquet").to_pylist(), pq.read_table(tmp_path / "all.parquet").to_pylist()
    assert [r["ranks"] for r in one] == [r["ranks"] for r in full]
    assert [len(r["ranks"]) for r in one] == [r["n_tokens"] for r in rows]


def test_bad_inputs_fail_before_the_model_loads(tmp_path):
    bad = tmp_path / "bad.parquet"
    write_parquet(pa.table({"response_id": ["a"], "text": ["x"]}), bad)
    with pytest.raises(ValueError, match="missing columns"):
        T.measure_token_shift_file(
            tmp_path / "no-model.json", {"in_domain": bad}, tmp_path / "out.parquet", chat_template=True
        )
    with pytest.raises(ValueError, match="marginal_max"):
        T.measure_token_shift_file(
            tmp_path / "no-model.json", {"in_domain": bad}, tmp_path / "out.parquet", chat_template=True, marginal_max=0
        )
