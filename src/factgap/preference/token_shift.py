"""Token distribution shift (AlignTDS, Lin et al. 2023) of a tuned model's greedy answers.

At every position of the tuned model's answer, the token it chose is ranked in the *base* model's
next-token distribution given the same prefix: rank 1 = unshifted (the base model would have said
it too), 2..``marginal_max`` = marginal, higher = shifted (ranks are exact over the whole
vocabulary, so a token outside the base model's top 10 is shifted like any other). A much lower
shifted share out of domain than in domain means tuning changed the model where it was tuned and
hardly anywhere else.

Pure core (ranks, categories, pooled ratios) and one shell over answer files in the bio schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from factgap.io import write_parquet

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

KINDS = ("unshifted", "marginal", "shifted")
BIO_COLUMNS = ["response_id", "entity_id", "sample", "prompt", "text"]

TOKEN_SHIFT_SCHEMA = pa.schema(
    [
        pa.field("response_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),  # e.g. in_domain | out_of_domain
        pa.field("n_tokens", pa.int64(), nullable=False),
        pa.field("n_unshifted", pa.int64(), nullable=False),
        pa.field("n_marginal", pa.int64(), nullable=False),
        pa.field("n_shifted", pa.int64(), nullable=False),
        pa.field("ranks", pa.list_(pa.int64()), nullable=False),  # the first max_tokens ranks (all by default)
    ]
)


# ---- pure core ----------------------------------------------------------------------------------
def token_ranks(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Rank of each target in its row of logits: 1 + the number of vocabulary entries with a
    strictly greater logit, so 1 = the base model's top token.

    Ties favour the target (an entry with an equal logit does not push it down): a token the base
    model would pick among equals is not counted as shifted. This differs from
    ``factgap.scoring.ranks_from_logits`` (vLLM's convention, ties count against the token).

    ``logits`` (T, V) float, ``targets`` (T,) integer -> (T,) long.
    """
    import torch

    if logits.dim() != 2 or targets.dim() != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(f"need logits (T, V) and targets (T,), got {tuple(logits.shape)} and {tuple(targets.shape)}")
    chosen = logits.gather(-1, targets.long().unsqueeze(-1))
    return (logits > chosen).sum(dim=-1).to(torch.long) + 1


def _check_marginal_max(marginal_max: int) -> None:
    if marginal_max < 1:
        raise ValueError(f"marginal_max must be >= 1, got {marginal_max}")


def shift_category(rank: int, marginal_max: int = 3) -> str:
    """Category of one rank: unshifted (1), marginal (2..``marginal_max``) or shifted (higher);
    ``marginal_max=1`` leaves no marginal band."""
    _check_marginal_max(marginal_max)
    if rank < 1:
        raise ValueError(f"ranks start at 1, got {rank}")
    return "unshifted" if rank == 1 else "marginal" if rank <= marginal_max else "shifted"


def count_categories(ranks: Iterable[int], marginal_max: int = 3) -> dict[str, int]:
    """n_unshifted, n_marginal, n_shifted and n_tokens of one answer's ranks."""
    _check_marginal_max(marginal_max)
    counts = {f"n_{kind}": 0 for kind in KINDS}
    n = 0
    for rank in ranks:
        counts[f"n_{shift_category(int(rank), marginal_max)}"] += 1
        n += 1
    return {**counts, "n_tokens": n}


def shift_ratios(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | int]:
    """Token shares pooled over answers (every token weighs the same, so long answers weigh more),
    with n_tokens and n_responses; the shares are NaN when there is no token."""
    for r in rows:
        if sum(int(r[f"n_{kind}"]) for kind in KINDS) != int(r["n_tokens"]):
            raise ValueError(f"counts do not add up to n_tokens: {dict(r)}")
    total = sum(int(r["n_tokens"]) for r in rows)
    out: dict[str, float | int] = {
        kind: sum(int(r[f"n_{kind}"]) for r in rows) / total if total else float("nan") for kind in KINDS
    }
    return {**out, "n_tokens": total, "n_responses": len(rows)}


# ---- shell --------------------------------------------------------------------------------------
def response_token_ids(tokenizer, prompt: str, text: str) -> tuple[list[int], int]:
    """(ids of prompt + response, index of the first response token).

    Both strings are encoded as ``HFBackend`` encodes prompts for generation; the response's tokens
    are those after the common prefix of the tokenised prompt and prompt + response (a token merged
    across the boundary counts as the response's). The response is re-tokenised from its stored,
    stripped text, which can differ from the ids the tuned model generated at the first token (a
    stripped leading space) or around whitespace: a stated approximation of AlignTDS, which ranks
    the generated ids themselves. The end-of-turn token is not ranked (the text does not keep it).
    """
    from factgap.scoring import common_prefix_length

    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    full_ids = tokenizer(prompt + text, add_special_tokens=True)["input_ids"]
    start = common_prefix_length(prompt_ids, full_ids)
    if start == 0 and full_ids:
        raise ValueError(f"prompt {prompt[-40:]!r}: no token to condition the response on")
    return list(full_ids), start


def rank_responses(
    model, tokenizer, encoded: Sequence[tuple[Sequence[int], int]], batch_size: int, desc: str = "token ranks"
) -> list[list[int]]:
    """Per (ids, start) of ``response_token_ids``: the rank under ``model`` of every token from
    ``start`` on. Right-padded batches of similar length, one forward pass each; with right padding
    the real tokens keep the positions of an unpadded pass, so no position ids are needed."""
    import torch

    from factgap.generation import length_sorted_batches
    from factgap.runtime import progress

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[list[int]] = [[] for _ in encoded]
    for batch in progress(length_sorted_batches([len(ids) for ids, _ in encoded], batch_size), desc):
        rows = [i for i in batch if len(encoded[i][0]) > encoded[i][1]]  # empty responses keep []
        if not rows:
            continue
        width = max(len(encoded[i][0]) for i in rows)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, i in enumerate(rows):
            ids = encoded[i][0]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        with torch.inference_mode():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
            for row, i in enumerate(rows):
                ids, start = encoded[i]
                targets = torch.tensor(ids[start:], dtype=torch.long, device=logits.device)
                # token t is predicted by the logits at t - 1
                out[i] = token_ranks(logits[row, start - 1 : len(ids) - 1].float(), targets).tolist()
        del logits
    return out


def read_greedy_responses(path) -> tuple[list[dict], int]:
    """(greedy rows with a non-empty text, number of empty greedy texts) of a bio-schema file."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    missing = [c for c in BIO_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} of the bio schema")
    greedy = [r for r in pq.read_table(path, columns=BIO_COLUMNS).to_pylist() if r["sample"] == -1]
    kept = [r for r in greedy if r["text"] and r["text"].strip()]
    return kept, len(greedy) - len(kept)


def measure_token_shift_file(
    base_manifest_path,
    responses: Mapping[str, str],
    out_path,
    *,
    chat_template: bool,
    marginal_max: int = 3,
    batch_size: int = 8,
    max_tokens: int | None = None,
) -> dict:
    """Rank the greedy answers of ``responses`` (domain label -> bio-schema parquet) under the base
    model; write one ``TOKEN_SHIFT_SCHEMA`` row per answer and return ``shift_ratios`` per domain.

    Prompts are rendered as generation rendered them (``prompts.chat_prompt`` with ``chat_template``);
    see ``response_token_ids`` for the re-tokenisation approximation. Counts cover every token;
    ``max_tokens`` only caps the ranks stored per row (the files stay small for long answers).
    """
    import torch

    from factgap.models import load_causal_lm
    from factgap.prompts import chat_prompt

    _check_marginal_max(marginal_max)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0 or None, got {max_tokens}")
    if not responses:
        raise ValueError("no response files")
    answers = {domain: read_greedy_responses(path) for domain, path in responses.items()}  # fail before loading

    model, tokenizer = load_causal_lm(base_manifest_path)
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    rows: list[dict] = []
    summary: dict[str, dict] = {}
    for domain, (kept, n_empty) in answers.items():
        encoded = [
            response_token_ids(tokenizer, chat_prompt(tokenizer, r["prompt"], chat_template), r["text"]) for r in kept
        ]
        ranks = rank_responses(model, tokenizer, encoded, batch_size, desc=f"token ranks ({domain})")
        domain_rows = [
            {
                "response_id": r["response_id"],
                "entity_id": r["entity_id"],
                "domain": domain,
                **count_categories(rk, marginal_max),
                "ranks": rk if max_tokens is None else rk[:max_tokens],
            }
            for r, rk in zip(kept, ranks, strict=True)
        ]
        summary[domain] = shift_ratios(domain_rows)
        log.info(
            "token shift %s: %d answers (%d empty skipped), %d tokens: unshifted %.3f, marginal %.3f, shifted %.3f",
            domain,
            len(domain_rows),
            n_empty,
            summary[domain]["n_tokens"],
            summary[domain]["unshifted"],
            summary[domain]["marginal"],
            summary[domain]["shifted"],
        )
        rows += domain_rows
    write_parquet(pa.Table.from_pylist(rows, schema=TOKEN_SHIFT_SCHEMA), out_path)
    return summary
