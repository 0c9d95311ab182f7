"""S4 probe read-out (pure) and the runner's shared-prefix letter scoring against a plain forward pass."""

import math

import pytest
from test_s4_prompts import DEMOS, ITEM, llama_style_tokenizer

from factgap.s4 import probe as R
from factgap.s4 import prompts as P


def test_read_out_prediction_confidence_correctness():
    out = R.read_out([0.1, 0.6, 0.2, 0.1], answer_index=1)
    assert (out["prediction"], out["max_prob"], out["confident"], out["correct"]) == (1, 0.6, True, True)
    assert out["ranks"] == [3, 1, 2, 3]
    tie = R.read_out([0.4, 0.4, 0.1, 0.1], answer_index=1)
    assert tie["prediction"] == 0 and not tie["confident"] and not tie["correct"]  # first max, as numpy.argmax
    assert not R.read_out([0.5, 0.5, 0, 0], 0)["confident"]  # strictly above 0.5
    assert R.read_out([0.5, 0.5, 0, 0], 0, threshold=0.4)["confident"]
    with pytest.raises(ValueError):
        R.read_out([0.5, 0.2], 0)
    with pytest.raises(ValueError):
        R.read_out([0.5, 0.5], 2)
    rows = R.probe_rows([{"id": "a", "answer_index": 2}], [[0.1, 0.1, 0.8]], extra=[{"letter_mass": 0.9}])
    assert rows[0]["correct"] and rows[0]["letter_mass"] == 0.9 and rows[0]["id"] == "a"
    probs = R.option_probs_from_logliks([-1.0, -2.0, -3.0])
    assert sum(probs) == pytest.approx(1) and probs[0] / probs[1] == pytest.approx(math.e)
    # per-length normalisation: a long option with the same per-character log-prob ties a short one
    assert R.option_probs_from_logliks([-2.0, -8.0], lengths=[2, 8]) == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError):
        R.option_probs_from_logliks([-2.0, -8.0], lengths=[2])


def test_letter_probs_with_shared_prefix_equal_a_plain_forward():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = llama_style_tokenizer()
    tok.pad_token = "<unk>"
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
        )
    ).eval()
    items = [
        ITEM,
        *DEMOS,
        {"question": "Where is Rome?", "choices": ["Italy", "Spain", "Chad", "Fiji"], "answer_index": 0},
    ]
    prompts = ["".join(P.probe_prompt("geography", DEMOS, it)) for it in items]
    letter_ids = P.answer_letter_token_ids(tok)
    got = R.letter_probs(model, tok, prompts, letter_ids, batch_size=3)
    for prompt, (probs, mass) in zip(prompts, got):
        ids = torch.tensor([tok(prompt)["input_ids"]])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), -1)[letter_ids]
        expected = torch.softmax(logprobs, -1).tolist()
        assert probs == pytest.approx(expected, abs=1e-5)
        assert mass == pytest.approx(float(logprobs.exp().sum()), rel=1e-4)
    # option log-likelihoods with the shared prefix equal factgap.scoring's plain batched scoring
    from factgap.scoring import option_logprobs

    conts = [P.option_continuations(it["choices"], style) for it in items for style in ("answer", "text")]
    doubled = [p for p in prompts for _ in range(2)]
    got = R.option_logliks(model, tok, doubled, conts, batch_size=5)
    expected = option_logprobs(model, tok, doubled, conts, batch_size=3, add_special_tokens=True)
    for g, e in zip(got, expected):
        assert g == pytest.approx(e, abs=1e-3)
    for per_char in (False, True):
        option = R.option_loglik_probs(model, tok, prompts[:2], [it["choices"] for it in items[:2]], per_char=per_char)
        assert all(sum(p) == pytest.approx(1) and len(p) == 4 for p in option)
