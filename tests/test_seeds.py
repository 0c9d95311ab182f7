"""Seed sweeps: the across-seed summary of table cells, pooled paired tests, the sweep's commands
and the across_seeds target's inputs."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factgap import seed_design, seeds
from factgap.evaluate import PREDICTION_SCHEMA
from factgap.reports import s2_factuality_gap, s2_icl_gains

REPO = Path(__file__).resolve().parents[1]


def test_cell_columns_keys_are_text_then_non_count_integers():
    table = pd.DataFrame(
        {
            "model": ["m", "m"],
            "epoch": [1, 2],
            "n": [5, 5],
            "is_best": [True, False],
            "em": [0.5, 0.6],
            "em_low": [0.4, 0.5],
            "em_high": [0.6, 0.7],
            "em_n": [10, 10],
        }
    )
    assert seeds.cell_columns(table) == (["model", "epoch"], ["em"])
    # read back from a CSV, an estimate that came out whole is an integer column: still a value, and its
    # bound is no key; a step counter after epoch (it differs between seeds) is not needed as a key
    dynamics = pd.DataFrame(
        {
            "set": ["mix"] * 2,
            "epoch": [1, 2],
            "global_step": [9, 18],
            "dev_em": [0.4, 0.5],
            "dev_em_low": [0.3, 0.4],
            "dev_em_high": [1, 1],
            "train_em": [1, 1],
            "train_em_low": [1, 1],
            "train_em_high": [1, 1],
        }
    )
    assert seeds.cell_columns(dynamics) == (["set", "epoch"], ["dev_em", "train_em"])
    one_row_per_text_key = table.assign(model=["a", "b"])
    assert seeds.cell_columns(one_row_per_text_key)[0] == ["model"]
    with pytest.raises(ValueError, match="identify a row"):
        seeds.cell_columns(pd.DataFrame({"model": ["m", "m"], "em": [0.1, 0.2]}), "t.csv")


def test_summarize_cells_mean_spread_t_interval_and_sign():
    frames = {
        s: seeds.table_cells(pd.DataFrame({"subset": ["all", "rare"], "gap": [g, r]}))
        for s, (g, r) in {0: (0.20, 0.1), 1: (0.10, -0.05), 2: (0.15, 0.0)}.items()
    }
    frames[2] = frames[2][frames[2]["key"] != "subset=rare"]  # a cell one seed lacks
    out = seeds.summarize_cells(frames).set_index("key")
    whole = out.loc["subset=all"]
    assert whole["n_seeds"] == 3 and whole["mean"] == pytest.approx(0.15)
    assert (whole["min"], whole["max"]) == (pytest.approx(0.10), pytest.approx(0.20))
    # t(0.975, 2) = 4.303; sd = 0.05
    half = 4.302652729911275 * 0.05 / math.sqrt(3)
    assert (whole["t_low"], whole["t_high"]) == (pytest.approx(0.15 - half), pytest.approx(0.15 + half))
    assert whole["sign"] == "+"
    rare = out.loc["subset=rare"]
    assert rare["n_seeds"] == 2 and math.isnan(rare["seed_2"]) and rare["sign"] == "mixed"


def test_sign_and_t_interval_edge_cases():
    assert seeds.sign_over_seeds([-1, -2]) == "-" and seeds.sign_over_seeds([0, 0]) == "0"
    assert seeds.sign_over_seeds([]) == "mixed"
    assert all(math.isnan(v) for v in seeds.t_interval([0.3]))


def _predictions(seed: int, n: int = 40) -> pd.DataFrame:
    """Known-trained right on most items, Unknown-trained on fewer; 4-shot helps the Unknown one."""
    rng = np.random.default_rng(seed)
    rows = []
    categories = rng.choice(["HighlyKnown", "Unknown"], size=n)
    p = {
        "base": 0.3,
        "sft/known/early_stop": 0.6,
        "sft/known/convergence": 0.6,
        "sft/unknown/early_stop": 0.5,
        "sft/unknown/convergence": 0.3,
    }
    for variant, p_right in p.items():
        label = "base" if variant == "base" else variant.split("/", 1)[1].replace("/", "-")
        for prompt in ("zero_shot", "four_shot"):
            boost = 0.2 if (prompt == "four_shot" and "unknown" in variant) else 0.0
            right = rng.random(n) < p_right + boost
            for i in range(n):
                rows.append(
                    {
                        "id": f"s{seed}-q{i}",
                        "relation": "P17",
                        "category": str(categories[i]),
                        "popularity": 1.0,
                        "prompt_mode": prompt,
                        "variant": label,
                        "raw_output": "x",
                        "prediction": "x",
                        "correct": bool(right[i]),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def seed_folders(tmp_path):
    """Two seeds' S2 tables (built by the real report code) and prediction files."""
    tables, predictions = {}, {}
    for seed in (0, 1):
        frame = _predictions(seed).assign(model="m", dataset="geo")
        root = tmp_path / f"seed-{seed}"
        (root / "tables").mkdir(parents=True)
        tables[seed] = {}
        for name, table in (
            (
                "s2_factuality_gap",
                s2_factuality_gap.build_table(
                    frame[frame.prompt_mode == "zero_shot"], "known", "unknown", 200, 0.95, seed
                ),
            ),
            ("s2_icl_gains", s2_icl_gains.build_table(frame, 200, 0.95, seed)),
        ):
            path = root / "tables" / f"{name}.csv"
            table.to_csv(path, index=False)
            tables[seed][name] = str(path)
        paths, metas = [], []
        for (variant, prompt), rows in frame.groupby(["variant", "prompt_mode"]):
            path = root / f"{variant}-{prompt}.parquet"
            pq.write_table(
                pa.Table.from_pandas(
                    rows.drop(columns=["model", "dataset"]), schema=PREDICTION_SCHEMA, preserve_index=False
                ),
                path,
            )
            paths.append(str(path))
            metas.append({"model": "m", "dataset": "geo", "testset": "test"})
        predictions[seed] = (paths, metas)
    return tmp_path, tables, predictions


def test_summarize_seeds_files_writes_cells_pooled_tests_and_figure(seed_folders):
    tmp_path, tables, predictions = seed_folders
    config = {"evaluation": {"prompts": ["zero_shot", "four_shot"]}}
    outputs = {k: str(tmp_path / "out" / f"x.{k}") for k in ("csv", "paired_csv", "md", "provenance", "png")}
    seeds.summarize_seeds_files(
        "s2", [0, 1], tables, predictions, seed_design.study_comparisons("s2", config), {"seed": 0}, 200, 0.95, outputs
    )
    cells = pd.read_csv(outputs["csv"])
    gap = cells[
        (cells.table == "s2_factuality_gap")
        & (cells.column == "gap")
        & cells.key.str.contains("stage=convergence; test_subset=all")
    ].iloc[0]
    expected = [
        pd.read_csv(tables[s]["s2_factuality_gap"])
        .query("stage == 'convergence' and test_subset == 'all'")["gap"]
        .iloc[0]
        for s in (0, 1)
    ]
    assert [gap.seed_0, gap.seed_1] == pytest.approx(expected)
    assert gap["mean"] == pytest.approx(sum(expected) / 2)
    paired = pd.read_csv(outputs["paired_csv"])
    pooled = paired[(paired.comparison == "Known - Unknown (convergence)") & (paired.test_subset == "all")].iloc[0]
    assert pooled.n_items == 80 and pooled.n_seeds == 2
    # the pooled difference is the mean over both seeds' items, equal sizes: the mean of the seeds'
    assert pooled["diff"] == pytest.approx((pooled.seed_0 + pooled.seed_1) / 2)
    assert pooled["diff"] == pytest.approx(gap["mean"])  # the table's gap is the same paired mean
    assert 0 <= pooled.p <= 1 and pooled.diff_low <= pooled["diff"] <= pooled.diff_high
    assert set(paired.comparison) >= {"unknown-convergence: four_shot - zero_shot"}
    assert {"test-HighlyKnown", "test-Unknown"} <= set(paired.test_subset)
    assert Path(outputs["png"]).stat().st_size > 0
    assert "Pooled paired tests" in Path(outputs["md"]).read_text()


def test_summary_refuses_a_seed_without_tables(seed_folders):
    tmp_path, tables, predictions = seed_folders
    with pytest.raises(ValueError, match=r"seeds \[2\]"):
        seeds.summarize_seeds_files("s2", [0, 1, 2], tables, predictions, [], {}, 200, 0.95, {})


def test_sweep_overlays_and_commands():
    per_seed, summary = seed_design.sweep_overlays([0, 1], "results/", ["s1", "s2"])
    assert per_seed[1] == {
        "seed": 1,
        "results_dir": "results/seed-1",
        "models_dir": "results/models",
        "studies": ["s1", "s2"],
    }
    assert summary == {"seeds": [0, 1], "models_dir": "results/models", "studies": ["s1", "s2"]}
    assert "studies" not in seed_design.sweep_overlays([0], "r", None)[1]
    with pytest.raises(ValueError, match="duplicate"):
        seed_design.sweep_overlays([0, 0], "r", None)
    cmds = seed_design.sweep_commands(["smk"], ["c.yaml"], ["s0.yaml", "s1.yaml"], "sum.yaml", ["-n"])
    assert cmds[0] == ["smk", "--configfile", "c.yaml", "s0.yaml", "-n"]
    assert cmds[-1] == ["smk", "--configfile", "c.yaml", "sum.yaml", "-n", "across_seeds"]


def test_seed_root_matches_the_slurm_seed_array():
    from factgap.cluster import seed_overlay

    assert seed_overlay(3, "results_dir", "res")["results_dir"] == seed_design.seed_root("res", 3)


def test_across_seeds_target_reads_every_seed_and_shares_the_model(tmp_path):
    """Dry-run of the sweep's summary: each seed's tables and predictions are its inputs; a seed's
    own run puts the prepared model in the shared folder."""
    overlay = tmp_path / "sum.yaml"
    overlay.write_text("studies: [s2]\nseeds: [0, 4]\nmodels_dir: shared/models\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "across_seeds",
            "--configfile",
            str(REPO / "config" / "config.yaml"),
            str(overlay),
            "--directory",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "MissingInputException" in text
    for seed in (0, 4):
        assert f"results/seed-{seed}/tables/s2_factuality_gap.csv" in text
        assert f"results/seed-{seed}/eval/smollm2-135m/geonames/test/sft/unknown/convergence/four_shot.parquet" in text
    seed_run = tmp_path / "seed4.yaml"
    seed_run.write_text("seed: 4\nresults_dir: results/seed-4\nmodels_dir: shared/models\nstudies: [s2]\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--configfile",
            str(REPO / "config" / "config.yaml"),
            str(seed_run),
            "--directory",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shared/models/smollm2-135m/model.json" in out.stdout
    assert "results/seed-4/tables/s2_factuality_gap.csv" in out.stdout


def test_short_key_drops_what_every_key_shares():
    keys = [
        "model=m; dataset=g; stage=early_stop; test_subset=all",
        "model=m; dataset=g; stage=convergence; test_subset=all",
    ]
    assert seeds.short_key(keys[0], keys) == "early_stop"
    assert seeds.short_key("model=m", ["model=m"]) == "all"


def test_pooled_tests_count_an_item_shared_by_seeds_once():
    """Seeds split independently, so a question can be tested under several seeds: its differences are
    averaged into one value per item; the test is scipy's one-sample t-test on those item values."""
    from scipy import stats

    from factgap.seed_design import PairedComparison

    def frame(rows):
        return pd.DataFrame(
            [
                {
                    "model": "m",
                    "dataset": "d",
                    "variant": v,
                    "prompt_mode": "zero_shot",
                    "id": i,
                    "correct": c,
                    "category": "Unknown",
                }
                for i, (ca, cb) in rows.items()
                for v, c in (("known-convergence", ca), ("unknown-convergence", cb))
            ]
        )

    seed0 = frame({"q1": (1, 0), "q2": (1, 1), "q3": (0, 1), "q4": (1, 0)})
    seed1 = frame({"q3": (1, 1), "q4": (1, 0), "q5": (1, 0), "q6": (0, 0)})  # q3, q4 tested again
    comparison = PairedComparison("K - U", "known-convergence", "zero_shot", "unknown-convergence", "zero_shot")
    row = seeds.pooled_paired_tests({0: seed0, 1: seed1}, [comparison], n_resamples=200).query("test_subset == 'all'")
    row = row.iloc[0]
    # per item: q1 1, q2 0, q3 mean(-1, 0) = -0.5, q4 mean(1, 1) = 1, q5 1, q6 0
    items = np.array([1.0, 0.0, -0.5, 1.0, 1.0, 0.0])
    assert row.n_items == 6 and row.n_pairs == 8 and row.n_seeds == 2
    assert row["diff"] == pytest.approx(items.mean())
    assert row.p == pytest.approx(stats.ttest_1samp(items, 0.0).pvalue)
    # with no shared item the test is the paired t-test over all seed-item pairs, as before
    seed1_disjoint = frame({"q7": (1, 1), "q8": (1, 0), "q5": (1, 0), "q6": (0, 0)})
    row = seeds.pooled_paired_tests({0: seed0, 1: seed1_disjoint}, [comparison], n_resamples=200)
    row = row.query("test_subset == 'all'").iloc[0]
    a = np.array([1, 1, 0, 1, 1, 1, 1, 0], dtype=float)
    b = np.array([0, 1, 1, 0, 1, 0, 0, 0], dtype=float)
    assert row.n_items == 8 and row.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
