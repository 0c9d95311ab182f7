"""Generation backend: batching helpers, and that shared-prefix / shared-prefill decoding gives the
same answers as plain batched greedy decoding."""

import pytest

from factgap.generation import HFBackend, batch_seed, common_prefix_length, length_sorted_batches


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5, 6]]) == 2
    assert common_prefix_length([]) == 0
    assert common_prefix_length([[1], [2]]) == 0


def test_length_sorted_batches_cover_every_index_once():
    batches = length_sorted_batches([3, 10, 1, 7, 7], 2)
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert batches[0] == [1, 3]
    with pytest.raises(ValueError):
        length_sorted_batches([1], 0)


def test_token_budget_caps_padded_batch_size():
    lengths = [100, 570, 120, 110, 250, 240, 90]
    batches = length_sorted_batches(lengths, batch_size=16, max_tokens=500)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [1]  # longer than the budget alone: a batch of its own
    for batch in batches[1:]:
        assert len(batch) * max(lengths[i] for i in batch) <= 500
    assert batches[1] == [4, 5]
    assert length_sorted_batches(lengths, 2, max_tokens=10_000) == length_sorted_batches(lengths, 2)
    with pytest.raises(ValueError):
        length_sorted_batches(lengths, 2, max_tokens=0)


def test_batch_seed_depends_on_content_only():
    assert batch_seed(0, ["a", "b"]) == batch_seed(0, ["a", "b"]) != batch_seed(1, ["a", "b"])
    assert batch_seed(0, ["ab"]) != batch_seed(0, ["a", "b"])


@pytest.fixture(scope="module")
def backend(tiny_llama):
    from factgap.models import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llama)
    return HFBackend(model, tokenizer, show_progress=False)


def _prompts():
    shots = {
        "P17": "Q: Which country is Paris in?\nA: France\n\nQ: Which country is Lima in?\nA: Peru\n\n",
        "P36": "Q: What is the capital of Japan?\nA: Tokyo\n\n",
    }
    prompts, groups = [], []
    for city in ["Berlin", "Ho Chi Minh City", "Oslo", "Rio de Janeiro", "Kyoto"]:
        for rel, text in shots.items():
            prompts.append(f"{text}Q: Where is {city}?\nA:")
            groups.append(rel)
    return prompts, groups


def test_shared_prefix_greedy_equals_plain_greedy(backend):
    prompts, groups = _prompts()
    plain = backend.greedy(prompts, max_new_tokens=6, batch_size=3, stop=[])
    shared = backend.greedy(prompts, max_new_tokens=6, batch_size=3, stop=[], groups=groups)
    assert shared == plain
    assert backend.greedy(prompts[:3], max_new_tokens=6, batch_size=2, stop=[]) == plain[:3]  # batching-invariant


def test_shared_prefill_greedy_matches_plain_and_samples_are_seeded(backend):
    prompts, _ = _prompts()
    plain = backend.greedy(prompts, max_new_tokens=5, batch_size=4, stop=[])
    greedy, samples = backend.greedy_and_samples(
        prompts, n_samples=3, temperature=0.5, top_k=40, max_new_tokens=5, batch_size=4, seed=1, stop=[]
    )
    assert greedy == plain
    assert all(len(s) == 3 for s in samples)
    again = backend.greedy_and_samples(
        prompts, n_samples=3, temperature=0.5, top_k=40, max_new_tokens=5, batch_size=4, seed=1, stop=[]
    )
    assert again == (greedy, samples)


def test_adapter_is_merged_for_inference(tiny_llama, tmp_path):
    """An adapter loads merged into the weights (no LoRA layers left) and gives the logits of the
    unmerged PEFT model."""
    import torch
    from peft import LoraConfig, get_peft_model

    from factgap.models import load_causal_lm

    base, tokenizer = load_causal_lm(tiny_llama)
    torch.manual_seed(1)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([tokenizer("Q: Where is Oslo?\nA:")["input_ids"]])
    with torch.inference_mode():
        expected = peft_model(input_ids=ids).logits
    merged, _ = load_causal_lm(tiny_llama, tmp_path / "adapter")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    with torch.inference_mode():
        got = merged(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-4)
    assert not torch.allclose(got, load_causal_lm(tiny_llama)[0](input_ids=ids).logits, atol=1e-4)


# stop strings that occur in many tokens, so the tiny random model's rows finish at different steps
EARLY_STOPS = ["e", "a", "o"]


@pytest.mark.parametrize("stop", [EARLY_STOPS, []])
def test_dropping_finished_rows_reproduces_generate(backend, stop):
    """The decoding loop that drops finished rows returns what generate returns: greedy, seeded
    samples (the random stream is consumed as generate consumes it) and shared-prefix greedy."""
    prompts, groups = _prompts()
    outputs = {}
    for drop in (True, False):
        backend.drop_finished = drop
        try:
            outputs[drop] = (
                backend.greedy(prompts, max_new_tokens=6, batch_size=4, stop=stop),
                backend.greedy(prompts, max_new_tokens=6, batch_size=4, stop=stop, groups=groups),
                backend.greedy_and_samples(
                    prompts, n_samples=3, temperature=0.7, top_k=50, max_new_tokens=6, batch_size=4, seed=2, stop=stop
                ),
                backend.greedy_and_samples(
                    prompts,
                    n_samples=2,
                    temperature=1.0,
                    top_k=0,
                    top_p=0.9,
                    max_new_tokens=6,
                    batch_size=3,
                    seed=5,
                    stop=stop,
                ),
            )
        finally:
            backend.drop_finished = True
    assert outputs[True] == outputs[False]
    if stop:  # the case is one where rows finish at different steps
        lengths = {len(backend.tokenizer(text)["input_ids"]) for group in outputs[True][2][1] for text in group}
        assert len(lengths) > 1


def test_decoding_plan_leaves_other_processors_to_generate(backend):
    """Settings the loop does not reproduce (here a repetition penalty) fall back to generate."""
    from factgap.generation import decoding_plan

    ids, _ = backend._encode(["Q: Where is Oslo?\nA:"])
    kwargs = backend._generate_kwargs(5, ["\n"])
    assert decoding_plan(backend.model, backend.tokenizer, kwargs, True, ids) is not None
    assert decoding_plan(backend.model, backend.tokenizer, {**kwargs, "repetition_penalty": 1.3}, True, ids) is None
    assert decoding_plan(backend.model, backend.tokenizer, {**kwargs, "num_beams": 2}, False, ids) is None
