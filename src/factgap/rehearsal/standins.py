"""Tiny stand-ins for the paper models, for rehearsing a paper config on a CPU (``make rehearse``).

A stand-in shares with the model it stands for what the workflow's code depends on: the architecture
class (Llama or Mistral), the tokenizer family (Llama-2 / Mistral: SentencePiece-style BPE with
byte fallback, ``<s>`` prepended; Llama-3: byte-level BPE, ``<|begin_of_text|>`` prepended), and a
chat template only where the paper's model has one (base models have none). Its weights are tiny
(two layers) and briefly trained on the rehearsal's own facts, so that the probes find some items
known and others unknown, as they do on a pretrained model; its answers mean nothing otherwise.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Chat formats of the paper's instruct models, written from their public model cards' descriptions.
LLAMA2_CHAT = (
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ bos_token }}[INST] {{ m['content'] | trim }} [/INST]"
    "{% elif m['role'] == 'assistant' %} {{ m['content'] | trim }} {{ eos_token }}{% endif %}{% endfor %}"
)
MISTRAL_CHAT = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }}[/INST]"
    "{% elif m['role'] == 'assistant' %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
LLAMA3_CHAT = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


# The pre-tokenizer pattern of Llama-3's tokenizer.json (as published with the model)
LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


@dataclass(frozen=True)
class Family:
    architecture: str  # "llama" or "mistral"
    tokenizer: str  # "sentencepiece" or "bytelevel"
    bos: str
    eos: str
    chat_eos: str
    chat_template: str
    specials: tuple[str, ...] = ()


FAMILIES = {
    "llama2": Family("llama", "sentencepiece", "<s>", "</s>", "</s>", LLAMA2_CHAT),
    "mistral": Family("mistral", "sentencepiece", "<s>", "</s>", "</s>", MISTRAL_CHAT, ("[INST]", "[/INST]")),
    "llama3": Family(
        "llama",
        "bytelevel",
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|eot_id|>",
        LLAMA3_CHAT,
        ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    ),
}


def parse_standin_name(name: str) -> tuple[str, bool]:
    """``llama3-instruct`` -> ("llama3", True); ``mistral-base`` -> ("mistral", False)."""
    family, _, kind = name.partition("-")
    if family not in FAMILIES or kind not in ("base", "instruct"):
        raise ValueError(
            f"stand-in model {name!r}: expected <family>-<base|instruct> with family one of {', '.join(FAMILIES)}"
        )
    return family, kind == "instruct"


def build_tokenizer(family: Family, corpus: Sequence[str], chat: bool, vocab_size: int = 2000):
    """A tokenizer of ``family`` trained on ``corpus``, with the chat template when ``chat``."""
    return wrap_tokenizer(family, train_tokenizer(family, corpus, vocab_size), chat)


def train_tokenizer(family: Family, corpus: Sequence[str], vocab_size: int = 2000):
    """The family's BPE (pre-tokenizer, byte handling, BOS prepended) trained on ``corpus``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    base_specials = ["<unk>", family.bos, family.eos] if family.bos == "<s>" else [family.bos, family.eos]
    specials = list(dict.fromkeys([*base_specials, *family.specials]))
    if family.tokenizer == "sentencepiece":
        byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        # SentencePiece as Llama-2 / Mistral configure it: pieces do not cross whitespace, punctuation or
        # script boundaries, digits are single pieces, a newline is its own (byte) piece
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split("\n", "isolated"),
                pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True),
                pre_tokenizers.Punctuation("isolated"),
                pre_tokenizers.Digits(individual_digits=True),
            ]
        )
        tok.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
        )
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + byte_tokens)
    else:
        tok = Tokenizer(models.BPE())
        # Llama-3's split: runs of newlines are one piece, letters never join a preceding newline
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    tok.train_from_iterator(corpus, trainer)
    if family.tokenizer == "sentencepiece":  # byte pieces are ordinary vocabulary (decoded, never skipped)
        import json

        spec = json.loads(tok.to_str())
        spec["added_tokens"] = [t for t in spec["added_tokens"] if not t["content"].startswith("<0x")]
        tok = Tokenizer.from_str(json.dumps(spec))
    bos_id = tok.token_to_id(family.bos)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{family.bos} $A", pair=f"{family.bos} $A {family.bos} $B", special_tokens=[(family.bos, bos_id)]
    )
    return tok


def wrap_tokenizer(family: Family, tok, chat: bool):
    """A transformers tokenizer over the trained ``tok``: the base model's end token, or the chat
    variant's end-of-turn token and chat template."""
    from transformers import PreTrainedTokenizerFast

    eos = family.chat_eos if chat else family.eos
    kwargs = {"unk_token": "<unk>"} if family.tokenizer == "sentencepiece" else {}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=family.bos, eos_token=eos, **kwargs)
    if chat:
        tokenizer.chat_template = family.chat_template
    return tokenizer


def build_family(
    out_dirs: Mapping[str, str | Path],
    corpus: Sequence[str],
    known_texts: Sequence[str],
    seed: int = 0,
    steps: int = 600,
    hidden_size: int = 64,
) -> list[Path]:
    """Write stand-ins of one family, ``{name: out_dir}`` (names ``<family>-<base|instruct>``): one
    tokenizer trained on ``corpus`` and one two-layer model trained ``steps`` steps on ``known_texts``
    (the facts it should know), saved once per variant (the instruct variant adds the chat template and
    its end-of-turn token)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    parsed = {name: parse_standin_name(name) for name in out_dirs}
    families = {family for family, _ in parsed.values()}
    if len(families) != 1:
        raise ValueError(f"stand-ins of one family at a time, got {sorted(out_dirs)}")
    family = FAMILIES[families.pop()]
    trained = train_tokenizer(family, corpus)
    base_tokenizer = wrap_tokenizer(family, trained, chat=False)
    config_class, model_class = (
        (LlamaConfig, LlamaForCausalLM) if family.architecture == "llama" else (MistralConfig, MistralForCausalLM)
    )
    torch.manual_seed(seed)
    config = config_class(
        vocab_size=len(base_tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=base_tokenizer.bos_token_id,
        eos_token_id=base_tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = model_class(config)
    _train_briefly(model, base_tokenizer, known_texts, seed, steps)
    written = []
    for name, out_dir in out_dirs.items():
        chat = parsed[name][1]
        tokenizer = wrap_tokenizer(family, trained, chat) if chat else base_tokenizer
        model.config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        written.append(Path(out_dir))
    return written


def _train_briefly(model, tokenizer, texts: Sequence[str], seed: int, steps: int, batch_size: int = 16) -> None:
    import torch

    if not texts:
        return
    rng = random.Random(seed)
    pad_id = tokenizer.eos_token_id  # the paper models ship without a padding token: none is saved
    # a copy: truncating sets the fast tokenizer's own truncation, which save_pretrained would keep
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.truncation_side = "left"  # long prompts (a judge's passages) keep their end, where the answer is
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = [rng.choice(texts) for _ in range(batch_size)]
        ids = [tokenizer(t, truncation=True, max_length=160)["input_ids"] + [tokenizer.eos_token_id] for t in batch]
        width = max(map(len, ids))
        input_ids = torch.tensor([i + [pad_id] * (width - len(i)) for i in ids])
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=input_ids.masked_fill(mask == 0, -100)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
