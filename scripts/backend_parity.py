#!/usr/bin/env python
"""Parity check of the HF and vLLM backends on one model (run on a GPU machine with vLLM installed).

For a model manifest (and optional LoRA adapter) and a small QA set (built in, or a JSONL file of
``{"prompt": ..., "answer": ..., "options": [...]}``), both backends produce:
  * greedy continuations  -> agreement of the extracted answers (first non-empty line);
  * option log-likelihoods -> max |diff|, argmax agreement, full rank-order agreement;
  * letter probabilities (S4 protocol, built-in multiple-choice items) -> max |diff|, argmax agreement;
  * ranks of the HF greedy continuation tokens (URIAL token shift) -> exact and shift-class agreement.
HF runs first (model on CUDA), is freed, then one vLLM engine with prefix caching OFF serves both
generation and scoring (vLLM issue #42019). Writes a JSON report; exits 1 when a check fails.

  python scripts/backend_parity.py --manifest results/model/model.json [--adapter DIR] [--out parity.json]

Run it in the GPU environment (``make install-gpu``; ``.venv/bin/python scripts/backend_parity.py ...``),
whose packages are pinned in envs/requirements-gpu.lock.

Tolerances: ``--atol`` on summed option log-probs (default 0.05, right for float32; use ~0.5 for
bf16 weights), ``--prob-atol`` on letter probabilities (default 0.01), ``--min-agreement`` (default
0.9) on the greedy-answer, argmax and rank shift-class agreement rates. Exact rank agreement and the
full rank order of the options are reported but not checked.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path

# ---------------------------------------------------------------------------- built-in items

_SHOTS = [
    ("Which country is Osaka located in?", "Japan"),
    ("Which country is Lyon located in?", "France"),
    ("Which country is Toronto located in?", "Canada"),
    ("Which country is Munich located in?", "Germany"),
]
_QA = [
    ("Which country is Madrid located in?", "Spain"),
    ("Which country is Chicago located in?", "United States"),
    ("Which country is Milan located in?", "Italy"),
    ("Which country is Mumbai located in?", "India"),
    ("Which country is Cairo located in?", "Egypt"),
    ("Which country is Sydney located in?", "Australia"),
    ("Which country is Moscow located in?", "Russia"),
    ("Which country is Lima located in?", "Peru"),
    ("Which country is Nairobi located in?", "Kenya"),
    ("Which country is Krakow located in?", "Poland"),
    ("Which country is Porto located in?", "Portugal"),
    ("Which country is Hanoi located in?", "Vietnam"),
]
_COUNTRY_OPTIONS = [
    "Spain",
    "United States",
    "Italy",
    "India",
    "Egypt",
    "Australia",
    "Russia",
    "Peru",
    "Kenya",
    "Poland",
    "Portugal",
    "Vietnam",
]
_MC = [
    ("What is the boiling point of water at sea level?", ["50 °C", "100 °C", "150 °C", "200 °C"], 1),
    ("Which planet is known as the Red Planet?", ["Venus", "Jupiter", "Mars", "Saturn"], 2),
    ("What is 7 times 8?", ["56", "54", "64", "48"], 0),
    ("Which gas do plants absorb from the air?", ["Oxygen", "Nitrogen", "Helium", "Carbon dioxide"], 3),
    ("Who wrote 'Romeo and Juliet'?", ["Charles Dickens", "William Shakespeare", "Jane Austen", "Mark Twain"], 1),
    ("What is the largest ocean on Earth?", ["Pacific", "Atlantic", "Indian", "Arctic"], 0),
]
LETTERS = ("A", "B", "C", "D")


def builtin_qa_items() -> list[dict]:
    """4-shot city -> country prompts in the project's Q/A format, 4 options each (gold first)."""
    from factgap.prompts import few_shot_prompt

    exemplars = [{"question": q, "answer": a} for q, a in _SHOTS]
    items = []
    for k, (question, answer) in enumerate(_QA):
        distractors = [c for c in _COUNTRY_OPTIONS if c != answer]
        options = [answer] + [distractors[(k + j) % len(distractors)] for j in range(3)]
        items.append(
            {"prompt": few_shot_prompt(question, exemplars), "answer": answer, "options": [f" {o}" for o in options]}
        )
    return items


def mc_prompt(question: str, choices: Sequence[str]) -> str:
    lines = [f"Question: {question}"] + [f"{letter}. {c}" for letter, c in zip(LETTERS, choices)]
    return "\n".join(lines) + "\nAnswer:"


def builtin_mc_items() -> list[dict]:
    """Multiple-choice items for the letter protocol (2-shot)."""
    shots = [mc_prompt(q, c) + f" {LETTERS[a]}" for q, c, a in _MC[:2]]
    return [
        {"prompt": "\n\n".join(shots + [mc_prompt(q, c)]), "answer": LETTERS[a], "options": [f" {x}" for x in c]}
        for q, c, a in _MC[2:]
    ]


def load_items(path: str | Path | None) -> list[dict]:
    if path is None:
        return builtin_qa_items()
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if "prompt" not in item:
                raise ValueError(f"{path}: item without 'prompt': {line[:80]}")
            items.append(item)
    return items


# ---------------------------------------------------------------------------- pure comparisons


def _answer(text: str) -> str:
    from factgap.text import first_line_answer

    return first_line_answer(text)


def greedy_agreement(hf: Sequence[str], vllm: Sequence[str]) -> dict:
    """Agreement of extracted answers (first non-empty line, trimmed) of two sets of continuations."""
    if len(hf) != len(vllm):
        raise ValueError(f"{len(hf)} HF vs {len(vllm)} vLLM continuations")
    disagreements = [
        {"index": i, "hf": _answer(a), "vllm": _answer(b)}
        for i, (a, b) in enumerate(zip(hf, vllm))
        if _answer(a) != _answer(b)
    ]
    n = len(hf)
    return {
        "n": n,
        "agree": n - len(disagreements),
        "rate": (n - len(disagreements)) / n if n else 1.0,
        "disagreements": disagreements,
    }


def _order(values: Sequence[float]) -> list[int]:
    return sorted(range(len(values)), key=lambda i: (-values[i], i))


def compare_scores(hf: Sequence[Sequence[float]], vllm: Sequence[Sequence[float]]) -> dict:
    """Max |diff|, argmax agreement and full rank-order agreement of per-item score lists."""
    if len(hf) != len(vllm) or any(len(a) != len(b) for a, b in zip(hf, vllm)):
        raise ValueError("score lists differ in shape")
    diffs = [abs(x - y) for a, b in zip(hf, vllm) for x, y in zip(a, b)]
    n = len(hf)
    argmax = sum(_order(a)[0] == _order(b)[0] for a, b in zip(hf, vllm) if a)
    order = sum(_order(a) == _order(b) for a, b in zip(hf, vllm))
    return {
        "n": n,
        "max_abs_diff": max(diffs, default=0.0),
        "argmax_agreement": argmax / n if n else 1.0,
        "rank_order_agreement": order / n if n else 1.0,
    }


def shift_class(rank: int) -> str:
    """URIAL token shift: rank 1 unshifted, 2-3 marginal, > 3 shifted."""
    return "unshifted" if rank == 1 else "marginal" if rank <= 3 else "shifted"


def compare_ranks(hf: Sequence[Sequence[int]], vllm: Sequence[Sequence[int]]) -> dict:
    if len(hf) != len(vllm) or any(len(a) != len(b) for a, b in zip(hf, vllm)):
        raise ValueError("rank lists differ in shape")
    pairs = [(x, y) for a, b in zip(hf, vllm) for x, y in zip(a, b)]
    n = len(pairs)
    return {
        "tokens": n,
        "exact": sum(x == y for x, y in pairs) / n if n else 1.0,
        "same_shift_class": sum(shift_class(x) == shift_class(y) for x, y in pairs) / n if n else 1.0,
    }


def failures(report: dict, *, atol: float, prob_atol: float, min_agreement: float) -> list[str]:
    """Human-readable list of the checks that failed (empty = parity)."""
    out = []
    if report["greedy"]["rate"] < min_agreement:
        out.append(f"greedy answer agreement {report['greedy']['rate']:.3f} < {min_agreement}")
    for key, tol in (("options", atol), ("letters", prob_atol)):
        part = report.get(key)
        if not part:
            continue
        if part["max_abs_diff"] > tol:
            out.append(f"{key}: max |diff| {part['max_abs_diff']:.4g} > {tol}")
        if part["argmax_agreement"] < min_agreement:
            out.append(f"{key}: argmax agreement {part['argmax_agreement']:.3f} < {min_agreement}")
    ranks = report.get("ranks")
    if ranks and ranks["same_shift_class"] < min_agreement:
        out.append(f"token ranks: shift-class agreement {ranks['same_shift_class']:.3f} < {min_agreement}")
    return out


# ---------------------------------------------------------------------------- shell


def run_backend(
    backend,
    items: list[dict],
    mc_items: list[dict],
    continuations: list[str] | None,
    max_new_tokens: int,
    batch_size: int,
) -> dict:
    from factgap.backends import score_with

    prompts = [it["prompt"] for it in items]
    out = {"greedy": backend.greedy(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)}
    with_options = [it for it in items if it.get("options")]
    if with_options:
        out["options"] = score_with(
            backend,
            "option_logprobs",
            [it["prompt"] for it in with_options],
            [it["options"] for it in with_options],
            batch_size=batch_size,
        )
    if mc_items:
        out["letters"] = score_with(
            backend, "letter_probabilities", [it["prompt"] for it in mc_items], LETTERS, batch_size=batch_size
        )
    conts = out["greedy"] if continuations is None else continuations
    keep = [i for i, c in enumerate(conts) if c.strip()]
    out["rank_items"] = keep
    out["ranks"] = (
        score_with(backend, "token_ranks", [prompts[i] for i in keep], [conts[i] for i in keep], batch_size=batch_size)
        if keep
        else []
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True, help="model manifest (model.json)")
    parser.add_argument("--adapter", default=None, help="PEFT LoRA directory (served unmerged by vLLM)")
    parser.add_argument("--items", default=None, help="JSONL of {prompt, answer?, options?}; default: built in")
    parser.add_argument("--no-letters", action="store_true", help="skip the built-in letter-protocol items")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--atol", type=float, default=0.05)
    parser.add_argument("--prob-atol", type=float, default=0.01)
    parser.add_argument("--min-agreement", type=float, default=0.9)
    parser.add_argument("--out", default=None, help="write the JSON report here")
    args = parser.parse_args(argv)

    from factgap.backends import make_backend

    items = load_items(args.items)
    mc_items = [] if args.no_letters else builtin_mc_items()

    hf = make_backend("hf", args.manifest, args.adapter, show_progress=False)
    hf_out = run_backend(hf, items, mc_items, None, args.max_new_tokens, args.batch_size)
    del hf
    gc.collect()
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass

    vllm = make_backend("vllm", args.manifest, args.adapter, show_progress=False, for_scoring=True)
    # ranks of the *HF* greedy tokens under both backends: same token ids on both sides
    vllm_out = run_backend(vllm, items, mc_items, hf_out["greedy"], args.max_new_tokens, args.batch_size)

    report = {
        "manifest": str(args.manifest),
        "adapter": args.adapter,
        "items": len(items),
        "greedy": greedy_agreement(hf_out["greedy"], vllm_out["greedy"]),
    }
    if "options" in hf_out:
        report["options"] = compare_scores(hf_out["options"], vllm_out["options"])
    if "letters" in hf_out:
        report["letters"] = compare_scores(hf_out["letters"], vllm_out["letters"])
    report["ranks"] = compare_ranks(hf_out["ranks"], vllm_out["ranks"])
    report["failures"] = failures(report, atol=args.atol, prob_atol=args.prob_atol, min_agreement=args.min_agreement)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
