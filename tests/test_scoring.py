"""factgap.scoring: pure helpers, and the HF shells on a tiny randomly initialised llama."""

from __future__ import annotations

import math

import pytest

from factgap import scoring

# ------------------------------------------------------------------------------------ pure helpers


def test_common_prefix_and_continuation_start():
    assert scoring.common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert scoring.common_prefix_length([], [1]) == 0
    assert scoring.continuation_start([1, 2, 3], [1, 2, 3, 4, 5]) == 3
    # boundary merge: prompt's last token is replaced by a merged one, which gets scored
    assert scoring.continuation_start([1, 2, 3], [1, 2, 9]) == 2
    with pytest.raises(ValueError, match="empty continuation"):
        scoring.continuation_start([1, 2], [1, 2])
    with pytest.raises(ValueError, match="nothing to condition on"):
        scoring.continuation_start([1], [7, 8])


def test_scored_positions():
    assert scoring.scored_positions(5, 3) == [2, 3]
    assert scoring.scored_positions(2, 1) == [0]
    for bad in [(3, 0), (3, 3)]:
        with pytest.raises(ValueError):
            scoring.scored_positions(*bad)


def test_rank_of_counts_ties_against_the_token():
    row = [0.1, 0.5, 0.3, 0.5]
    assert scoring.rank_of(row, 2) == 3
    assert scoring.rank_of(row, 1) == 2  # tie with index 3: vLLM's >= convention
    assert scoring.rank_of([3.0, 1.0, 2.0], 0) == 1
    assert scoring.rank_of([3.0, 1.0, 2.0], 1) == 3


def test_ranks_from_logits_matches_rank_of():
    import torch

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=g)
    targets = torch.randint(0, 50, (6,), generator=g)
    ranks, lps = scoring.ranks_from_logits(logits, targets)
    for i in range(6):
        assert int(ranks[i]) == scoring.rank_of(logits[i].tolist(), int(targets[i]))
        assert float(lps[i]) == pytest.approx(float(torch.log_softmax(logits[i], -1)[targets[i]]), abs=1e-6)
    argmax = logits.argmax(-1)
    assert scoring.ranks_from_logits(logits, argmax)[0].tolist() == [1] * 6


def test_softmax():
    assert scoring.softmax([]) == []
    p = scoring.softmax([1000.0, 1000.0, 1000.0 - math.log(2)])
    assert p == pytest.approx([0.4, 0.4, 0.2])


def test_letter_continuations():
    assert scoring.letter_continuations("Answer:", "AB") == [" A", " B"]
    assert scoring.letter_continuations("Answer: ", "AB") == ["A", "B"]
    assert scoring.letter_continuations("x\n", ["A"]) == ["A"]


def test_left_pad():
    import torch

    ids, mask, pos = scoring.left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert pos.tolist() == [[0, 1, 2], [0, 0, 0]]
    assert torch.is_tensor(ids)


def test_flatten_and_regroup():
    prompts, options, counts = scoring.flatten_options(["p", "q"], [["a", "b"], ["c"]])
    assert prompts == ["p", "p", "q"] and options == ["a", "b", "c"] and counts == [2, 1]
    assert scoring.regroup([1, 2, 3], counts) == [[1, 2], [3]]
    with pytest.raises(ValueError):
        scoring.regroup([1, 2], counts)
    with pytest.raises(ValueError):
        scoring.flatten_options(["p"], [])


class _FakeTokenizer:
    """Character-level tokenizer: enough for the tokenisation plumbing."""

    def __call__(self, texts, add_special_tokens=False):
        bos = [1] if add_special_tokens else []
        return {"input_ids": [bos + [ord(c) for c in t] for t in texts]}

    def convert_ids_to_tokens(self, ids):
        return [chr(i) for i in ids]


def test_encode_pairs_text_and_ids():
    tok = _FakeTokenizer()
    pairs = scoring.encode_pairs(tok, ["ab", "ab"], ["cd", [7, 8]])
    assert pairs == [([97, 98, 99, 100], 2), ([97, 98, 7, 8], 2)]
    pairs = scoring.encode_pairs(tok, ["ab"], ["c"], add_special_tokens=True)
    assert pairs == [([1, 97, 98, 99], 3)]
    with pytest.raises(ValueError):
        scoring.encode_pairs(tok, ["ab"], [[]])
    with pytest.raises(ValueError):
        scoring.encode_pairs(tok, ["ab"], ["c", "d"])


def test_letter_layout_fake_tokenizer():
    tok = _FakeTokenizer()
    # char-level: " A" is two tokens, so a prompt without trailing whitespace is rejected
    with pytest.raises(ValueError, match="one token"):
        scoring.letter_layout(tok, ["Answer:"])
    [(context, letters)] = scoring.letter_layout(tok, ["Answer: "])
    assert context == [ord(c) for c in "Answer: "] and letters == [65, 66, 67, 68]


# ------------------------------------------------------------------------------- tiny model shells


@pytest.fixture(scope="module")
def tiny(embedded_model):
    import torch
    import transformers

    torch.set_num_threads(1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(embedded_model.parent / "checkpoint")
    config = transformers.LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        initializer_range=0.2,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    return model, tokenizer


PROMPTS = [
    "Q: What is the capital of France?\nA:",
    "Q: Who wrote Hamlet?\nA:",
    "Q: Which country is Lyon located in? Think about it.\nA:",
]
OPTIONS = [[" Paris", " Lyon", " Marseille on the sea"], [" Shakespeare", " Marlowe"], [" France", " Spain"]]


def _manual_logprobs(model, ids, start):
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    lps = torch.log_softmax(logits, -1)
    return [float(lps[j - 1, ids[j]]) for j in range(start, len(ids))], logits


def test_option_logprobs_match_manual_full_sequence(tiny):
    model, tok = tiny
    got = scoring.option_logprobs(model, tok, PROMPTS, OPTIONS, batch_size=16)
    assert [len(g) for g in got] == [3, 2, 2]
    for prompt, options, scores in zip(PROMPTS, OPTIONS, got):
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        for option, score in zip(options, scores):
            full = tok(prompt + option, add_special_tokens=False)["input_ids"]
            assert full[: len(prompt_ids)] == prompt_ids
            manual, _ = _manual_logprobs(model, full, len(prompt_ids))
            assert score == pytest.approx(sum(manual), abs=1e-4)


def test_option_logprobs_batch_invariant(tiny):
    model, tok = tiny
    a = scoring.option_logprobs(model, tok, PROMPTS, OPTIONS, batch_size=1)
    b = scoring.option_logprobs(model, tok, PROMPTS, OPTIONS, batch_size=3)
    c = scoring.option_logprobs(model, tok, PROMPTS, OPTIONS, batch_size=64)
    for x, y, z in zip(a, b, c):
        assert x == pytest.approx(y, abs=1e-4) and x == pytest.approx(z, abs=1e-4)


def test_greedy_continuation_has_rank_one(tiny):
    import torch

    model, tok = tiny
    conts = []
    for prompt in PROMPTS:
        ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=6,
                min_new_tokens=6,
                pad_token_id=tok.pad_token_id,
            )
        conts.append(out[0, ids.shape[1] :].tolist())
    for bs in (1, 2, 8):
        ranks = scoring.token_ranks(model, tok, PROMPTS, conts, batch_size=bs)
        assert ranks == [[1] * 6] * 3
    lps, ranks = scoring.token_logprobs_and_ranks(model, tok, PROMPTS, conts, batch_size=3)
    for prompt, cont, lp in zip(PROMPTS, conts, lps):
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        manual, _ = _manual_logprobs(model, prompt_ids + cont, len(prompt_ids))
        assert lp == pytest.approx(manual, abs=1e-4)


def test_token_ranks_match_manual_for_text_continuations(tiny):
    model, tok = tiny
    conts = [" Paris, the city of light", " William Shakespeare", " France"]
    ranks = scoring.token_ranks(model, tok, PROMPTS, conts, batch_size=2)
    for prompt, cont, got in zip(PROMPTS, conts, ranks):
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        full = tok(prompt + cont, add_special_tokens=False)["input_ids"]
        _, logits = _manual_logprobs(model, full, len(prompt_ids))
        expected = [scoring.rank_of(logits[j - 1].tolist(), full[j]) for j in range(len(prompt_ids), len(full))]
        assert got == expected
        assert all(r >= 1 for r in got)


def test_letter_probabilities(tiny):
    import torch

    model, tok = tiny
    prompts = ["Question: 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", "Q?\nA. x\nB. y\nC. z\nD. w\nAnswer: "]
    probs = scoring.letter_probabilities(model, tok, prompts, batch_size=1)
    probs2 = scoring.letter_probabilities(model, tok, prompts, batch_size=2)
    raw = scoring.letter_probabilities(model, tok, prompts, normalize=False)
    letter_ids = [tok.convert_tokens_to_ids(t) for t in ["ĠA", "ĠB", "ĠC", "ĠD"]]
    for prompt, p, p2, r in zip(prompts, probs, probs2, raw):
        assert sum(p) == pytest.approx(1.0)
        assert p == pytest.approx(p2, abs=1e-5)
        assert 0 < sum(r) < 1
        assert [x / sum(r) for x in r] == pytest.approx(p, abs=1e-5)
        context = tok(prompt.rstrip(" "), add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([context])).logits[0, -1]
        expected = torch.softmax(logits[letter_ids].double(), -1).tolist()
        assert p == pytest.approx(expected, abs=1e-5)
    # letter probabilities agree with single-token option log-likelihoods
    opts = scoring.option_logprobs(model, tok, prompts[:1], [[" A", " B", " C", " D"]])
    assert scoring.softmax(opts[0]) == pytest.approx(probs[0], abs=1e-5)


def test_cached_option_scoring_equals_plain_scoring(tiny):
    """Each prompt once, options on its cache, the common prefix once: the same scores as scoring
    every (prompt, option) sequence whole, whatever the batch size and option lengths."""
    model, tok = tiny
    demos = "Q: What is 1+1?\nA: 2\n\nQ: What colour is the sky?\nA: blue\n\n"
    prompts = [demos + p for p in PROMPTS] + ["Q: Odd one?\nA:"]
    options = [*OPTIONS, [" x", " a much longer option with many tokens", " y"]]
    plain = scoring.option_logprobs(model, tok, prompts, options, batch_size=2)
    for batch_size in (1, 3, 64):
        cached = scoring.option_logprobs_cached(model, tok, prompts, options, batch_size=batch_size)
        for x, y in zip(plain, cached):
            assert x == pytest.approx(y, abs=1e-4)
    # no shared prefix at all (first tokens differ) still works
    alone = scoring.option_logprobs_cached(model, tok, PROMPTS[:2], OPTIONS[:2], batch_size=2)
    assert alone[0] == pytest.approx(scoring.option_logprobs(model, tok, PROMPTS[:1], OPTIONS[:1])[0], abs=1e-4)


def test_scores_do_not_depend_on_the_token_budget(tiny, monkeypatch):
    """A token budget smaller than the prompts splits every batch: same scores, letter probabilities
    and ranks as with whole batches."""
    model, tok = tiny
    demos = "Q: What is 1+1?\nA: 2\n\n"
    prompts = [demos + p for p in PROMPTS]
    whole = (
        scoring.option_logprobs_cached(model, tok, prompts, OPTIONS, batch_size=8),
        scoring.option_logprobs(model, tok, prompts, OPTIONS, batch_size=8),
        scoring.token_ranks(model, tok, prompts, [o[0] for o in OPTIONS], batch_size=8),
    )
    monkeypatch.setitem(scoring.SCORING_BATCH_TOKENS, "cpu", 30)
    split = (
        scoring.option_logprobs_cached(model, tok, prompts, OPTIONS, batch_size=8),
        scoring.option_logprobs(model, tok, prompts, OPTIONS, batch_size=8),
        scoring.token_ranks(model, tok, prompts, [o[0] for o in OPTIONS], batch_size=8),
    )
    for a, b in zip(whole[0] + whole[1], split[0] + split[1]):
        assert a == pytest.approx(b, abs=1e-4)
    assert whole[2] == split[2]
