#!/usr/bin/env python
"""make bench: time the inference engines against their baselines (benchmarks/config.yaml) and
write results/benchmarks/bench.json and bench.md; exits 1 when a ratio is below its floor."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "benchmarks" / "config.yaml"))
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    args = p.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    out = Path(args.out)

    import torch

    from factgap import bench
    from factgap.bench import few_shot_prompts, mc_inputs, model_backend, probing_prompts

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    backend = model_backend(cfg["model"], out / "model")
    peak = bench.matmul_peak("float32")
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s fp32 ({cfg['threads']} threads)", flush=True)
    r, pr, fs, mc = cfg["repeats"], cfg["probing"], cfg["few_shot"], cfg["multiple_choice"]
    results = bench.probing_case(backend, probing_prompts(pr["prompts"], cfg["seed"]), pr["n_samples"],
                                 pr["max_new_tokens"], pr["batch_size"], r, peak, pr["naive_prompts"])
    print(bench.markdown_rows(results), flush=True)
    prompts, groups = few_shot_prompts(fs["questions"], cfg["seed"])
    results += bench.few_shot_case(backend, prompts, groups, fs["max_new_tokens"], fs["batch_size"], r, peak)
    prompts, options = mc_inputs(backend.tokenizer, mc["subjects"], mc["per_subject"])
    results += bench.multiple_choice_case(backend.model, backend.tokenizer, prompts, options, mc["batch_size"], r, peak)
    by = {(x["case"], x["variant"].split(":")[0]): x for x in results}
    ratios = {
        "probing_vs_naive": by[("probing", "project")]["rate"] / results[0]["rate"],
        "probing_vs_return_sequences": by[("probing", "project")]["rate"]
        / by[("probing", "batched generate + num_return_sequences")]["rate"],
        "few_shot_vs_plain": by[("few-shot evaluation", "project")]["ratio"],
        "multiple_choice_vs_whole": by[("multiple choice", "project")]["ratio"],
    }
    failures = bench.floor_failures(ratios, cfg["floors"])
    identical = [x for x in results if x["same"] not in ("reference",) and not str(x["same"]).startswith("True")]
    failures += [f"{x['case']} / {x['variant']}: output differs from the baseline ({x['same']})" for x in identical]
    record = {"environment": bench.environment(), "peak_flops_per_s": peak, "config": cfg, "results": results,
              "ratios": ratios, "failures": failures}
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(record, indent=2))
    table = bench.markdown_rows(results)
    ratio_lines = "\n".join(f"- {k}: {v:.2f}x (floor {cfg['floors'].get(k, '-')}x)" for k, v in ratios.items())
    (out / "bench.md").write_text(f"# Engine benchmarks\n\nmatmul peak {peak / 1e9:.1f} GFLOP/s (fp32, "
                                  f"{cfg['threads']} threads); medians of {r} runs.\n\n{table}\n\n{ratio_lines}\n")
    print(table)
    print(ratio_lines)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
