"""S1 report modules (and the S2 OOD / popularity tables) on small synthetic tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factgap.evaluate import PREDICTION_SCHEMA
from factgap.io import write_json, write_parquet
from factgap.reports import (
    s1_category_accuracy,
    s1_idk,
    s1_linear_fit,
    s1_significance,
    s1_training_dynamics,
    s2_ood_gap,
    s2_popularity,
)
from factgap.reports.common import publish_report
from factgap.train import HISTORY_SCHEMA, SUMMARY_SCHEMA

KNOWN, UNKNOWN = ["HighlyKnown", "MaybeKnown"], ["Unknown"]
CATS = ["HighlyKnown", "MaybeKnown", "WeaklyKnown", "Unknown"]


def preds(
    variant,
    correct,
    *,
    testset="test",
    mode="zero_shot",
    model="m",
    dataset="d",
    categories=None,
    popularity=None,
    prediction=None,
    ids=None,
):
    n = len(correct)
    return pd.DataFrame(
        {
            "id": ids if ids is not None else [f"q{i:03d}" for i in range(n)],
            "relation": "P17",
            "category": categories if categories is not None else [CATS[i % 4] for i in range(n)],
            "popularity": popularity if popularity is not None else [float(i) for i in range(n)],
            "prompt_mode": mode,
            "variant": variant,
            "raw_output": "x",
            "prediction": prediction if prediction is not None else ["x"] * n,
            "correct": np.asarray(correct, dtype=bool),
            "model": model,
            "dataset": dataset,
            "testset": testset,
        }
    )


def paths_of(tmp_path, frames, schema, meta_keys):
    """Write each frame (minus its meta columns) as parquet; return paths and meta dicts."""
    paths, meta = [], []
    for i, frame in enumerate(frames):
        path = tmp_path / f"t{i}.parquet"
        write_parquet(pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False), path)
        paths.append(path)
        meta.append({k: frame[k].iloc[0] for k in meta_keys})
    return paths, meta


def publish(tmp_path, name, report, files, **options):
    """Run report ``factgap.reports.<report>`` through the one shell every report rule uses."""
    outputs = {
        "png": tmp_path / f"{name}.png",
        "csv": tmp_path / f"{name}.csv",
        "md": tmp_path / f"{name}.md",
        "provenance": tmp_path / f"{name}.provenance.json",
    }
    paths = {role: [str(p) for p in pm[0]] for role, pm in files.items()}
    meta = {role: pm[1] for role, pm in files.items()}
    return publish_report(f"factgap.reports.{report}", paths, meta, options, {"seed": 0}, [], [], outputs)


def assert_outputs(tmp_path, name):
    for suffix in (".png", ".csv", ".md", ".provenance.json"):
        assert (tmp_path / f"{name}{suffix}").stat().st_size > 0


# ---- training histories -----------------------------------------------------------------------
def history(training_set="mix-unknown-50", epochs=4, n_known=10, n_unknown=10, n_dev=8, model="m", dataset="d"):
    """Known examples fitted from epoch 1, Unknown ones one more fifth per epoch; dev EM falls."""
    rows = []
    for epoch in range(1, epochs + 1):
        for i in range(n_dev):
            rows.append(
                dict(
                    epoch=epoch,
                    global_step=epoch * 5,
                    eval_set="dev",
                    id=f"dev{i}",
                    relation="P17",
                    category=None,
                    prediction="x",
                    correct=i < n_dev - epoch,
                )
            )
        for i in range(n_known):
            rows.append(
                dict(
                    epoch=epoch,
                    global_step=epoch * 5,
                    eval_set="train",
                    id=f"k{i}",
                    relation="P17",
                    category="HighlyKnown" if i % 2 else "MaybeKnown",
                    prediction="x",
                    correct=True,
                )
            )
        for i in range(n_unknown):
            rows.append(
                dict(
                    epoch=epoch,
                    global_step=epoch * 5,
                    eval_set="train",
                    id=f"u{i}",
                    relation="P17",
                    category="Unknown",
                    prediction="x",
                    correct=i < n_unknown * epoch // 5,
                )
            )
    frame = pd.DataFrame(rows)
    frame["model"], frame["dataset"], frame["training_set"] = model, dataset, training_set
    return frame


def summary(hist, early=2):
    epochs = sorted(hist["epoch"].unique())
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "global_step": [e * 5 for e in epochs],
            "train_loss": 0.1,
            "dev_em": [hist[(hist.epoch == e) & (hist.eval_set == "dev")]["correct"].mean() for e in epochs],
            "train_em": 0.5,
            "is_early_stop": [e == early for e in epochs],
            "is_convergence": [e == epochs[-1] for e in epochs],
        }
    )
    for k in ("model", "dataset", "training_set"):
        frame[k] = hist[k].iloc[0]
    return frame


def test_training_dynamics_table_tracks_known_unknown_and_dev():
    hist = history()
    table = s1_training_dynamics.build_table(hist, summary(hist), KNOWN, UNKNOWN, 200, 0.95, 0)
    assert list(table["epoch"]) == [1, 2, 3, 4]
    assert (table["train_known_em"] == 1.0).all()
    assert list(table["train_unknown_em"]) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert list(table["train_Unknown_em"]) == list(table["train_unknown_em"])
    assert list(table["dev_em"]) == pytest.approx([7 / 8, 6 / 8, 5 / 8, 4 / 8])
    assert list(table["is_early_stop"]) == [False, True, False, False]
    assert list(table["is_convergence"]) == [False, False, False, True]
    assert (table["train_known_em_n"] == 10).all() and (table["dev_em_n"] == 8).all()
    assert (table["train_unknown_em_low"] <= table["train_unknown_em"]).all()
    assert (table["train_unknown_em"] <= table["train_unknown_em_high"]).all()
    assert "train_WeaklyKnown_em" not in table  # no such training example
    shown = s1_training_dynamics.display_table(table)
    assert shown.loc[1, "stage"] == "early stop" and shown.loc[3, "stage"] == "convergence"


def test_training_dynamics_needs_a_summary():
    hist = history()
    empty = summary(hist).iloc[0:0]
    with pytest.raises(ValueError, match="no training summary"):
        s1_training_dynamics.build_table(hist, empty, KNOWN, UNKNOWN, 100, 0.95, 0)
    bad = summary(hist).assign(is_early_stop=False)
    with pytest.raises(ValueError, match="exactly one"):
        s1_training_dynamics.build_table(hist, bad, KNOWN, UNKNOWN, 100, 0.95, 0)


def test_training_dynamics_report(tmp_path):
    hist = history()
    hp, hmeta = paths_of(tmp_path / "h", [hist], HISTORY_SCHEMA, ["model", "dataset", "training_set"])
    sp, _ = paths_of(tmp_path / "s", [summary(hist)], SUMMARY_SCHEMA, ["model", "dataset", "training_set"])
    table = publish(
        tmp_path,
        "dyn",
        "s1_training_dynamics",
        {"histories": (hp, hmeta), "summaries": (sp, hmeta)},
        known=KNOWN,
        unknown=UNKNOWN,
        n_resamples=100,
        confidence=0.9,
        seed=0,
    )
    assert len(table) == 4
    assert_outputs(tmp_path, "dyn")
    with pytest.raises(ValueError, match="no histories files"):
        publish(
            tmp_path,
            "e",
            "s1_training_dynamics",
            {},
            known=KNOWN,
            unknown=UNKNOWN,
            n_resamples=100,
            confidence=0.9,
            seed=0,
        )


# ---- per-category accuracy ---------------------------------------------------------------------
def test_category_accuracy_per_test_category():
    cats = ["HighlyKnown"] * 4 + ["Unknown"] * 4
    frames = [
        preds("only-MaybeKnown-early_stop", [1, 1, 1, 1, 1, 0, 0, 0], categories=cats),
        preds("only-HighlyKnown-early_stop", [1, 1, 1, 0, 0, 0, 0, 0], categories=cats),
        preds("only-HighlyKnown-early_stop", [0] * 8, categories=cats, mode="four_shot"),  # ignored
        preds("only-HighlyKnown-early_stop", [0] * 8, categories=cats, testset="ood"),  # ignored
        preds("mix-unknown-50-convergence", [0] * 8, categories=cats),
        preds("base", [1] * 4 + [0] * 4, categories=cats),
    ]
    table = s1_category_accuracy.build_table(pd.concat(frames), 100, 0.95, 0)
    # single-category models first, in category order; base last
    assert list(dict.fromkeys(table["training_set"])) == [
        "only-HighlyKnown",
        "only-MaybeKnown",
        "mix-unknown-50",
        "base",
    ]
    em = table.set_index(["training_set", "test_subset"])["em"]
    assert em["only-MaybeKnown", "all"] == pytest.approx(5 / 8)
    assert em["only-MaybeKnown", "Unknown"] == pytest.approx(1 / 4)
    assert em["only-HighlyKnown", "HighlyKnown"] == pytest.approx(3 / 4)
    assert em["only-HighlyKnown", "Unknown"] == 0
    assert set(table["stage"]) == {"early_stop", "convergence", ""}
    shown = s1_category_accuracy.display_table(table)
    assert len(shown) == 4 and list(shown.columns[-3:]) == ["all (n=8)", "HighlyKnown (n=4)", "Unknown (n=4)"]


def test_split_variant():
    assert s1_category_accuracy.split_variant("idk-mix-unknown-50-early_stop") == ("idk-mix-unknown-50", "early_stop")
    assert s1_category_accuracy.split_variant("base") == ("base", "")
    with pytest.raises(ValueError):
        s1_category_accuracy.split_variant("known-final")


def test_category_accuracy_report(tmp_path):
    frames = [
        preds(v, np.arange(8) % 2 == 0)
        for v in ("only-HighlyKnown-early_stop", "only-HighlyKnown-convergence", "only-Unknown-early_stop", "base")
    ]
    paths, meta = paths_of(tmp_path, frames, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    table = publish(
        tmp_path,
        "cat",
        "s1_category_accuracy",
        {"predictions": (paths, meta)},
        n_resamples=100,
        confidence=0.95,
        seed=0,
    )
    assert not table.empty
    assert_outputs(tmp_path, "cat")
    with pytest.raises(ValueError, match="fine-tuned"):
        publish(
            tmp_path,
            "cat2",
            "s1_category_accuracy",
            {"predictions": (paths[-1:], meta[-1:])},
            n_resamples=100,
            confidence=0.95,
            seed=0,
        )


# ---- linear fit ----------------------------------------------------------------------------------
def test_ols_recovers_a_known_linear_relation():
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = 0.369 + 0.073 * x[:, 0] - 0.083 * x[:, 1]
    res = s1_linear_fit.ols_fit(x, y)
    assert res["coef"] == pytest.approx([0.369, 0.073, -0.083], abs=1e-9)
    assert res["r2"] == pytest.approx(1.0)
    assert res["n"] == 40 and np.all(res["se"] < 1e-8)
    noisy = y + rng.normal(0, 0.01, size=40)
    res2 = s1_linear_fit.ols_fit(x, noisy)
    assert 0.5 < res2["r2"] < 1.0
    assert np.all(res2["se"] > 0)
    assert abs(res2["coef"][2] + 0.083) < 4 * res2["se"][2]


def test_ols_standard_errors_match_the_textbook_formula():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 2.9, 5.2, 7.1, 8.8])
    res = s1_linear_fit.ols_fit(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    assert res["coef"] == pytest.approx([intercept, slope])
    resid = y - (intercept + slope * x)
    se_slope = np.sqrt(resid @ resid / 3 / ((x - x.mean()) ** 2).sum())
    assert res["se"][1] == pytest.approx(se_slope)


def test_ols_needs_more_points_than_parameters():
    with pytest.raises(ValueError, match="need >= 4"):
        s1_linear_fit.ols_fit(np.ones((3, 2)), np.ones(3))
    res = s1_linear_fit.ols_fit(np.zeros((4, 2)) + [[0, 1], [1, 0], [0, 0], [1, 1]], [1, 2, 3, 4])
    assert res["n"] == 4 and res["rank"] == 3


def test_ols_collinear_predictors_have_no_standard_errors():
    x = np.column_stack([np.arange(6.0), 2 * np.arange(6.0)])
    res = s1_linear_fit.ols_fit(x, np.arange(6.0))
    assert res["rank"] == 2 and np.isnan(res["se"]).all()


def test_fitted_counts_and_points():
    hist = pd.concat([history("mix-unknown-50"), history("known", n_unknown=0), history("idk-mix-unknown-50")])
    counts = s1_linear_fit.fitted_counts(hist, KNOWN, UNKNOWN)
    mix = counts[counts.training_set == "mix-unknown-50"].set_index("epoch")
    assert (mix["train_size"] == 20).all()
    assert list(mix["n_unknown_fit"]) == [2, 4, 6, 8]
    assert list(mix["frac_known_fit"]) == [0.5] * 4
    assert list(mix["dev_em"]) == pytest.approx([7 / 8, 6 / 8, 5 / 8, 4 / 8])
    dev = s1_linear_fit.dev_points(counts)
    assert set(dev["training_set"]) == {"mix-unknown-50", "known"}  # relabelled set left out
    assert len(dev) == 8
    summ = pd.concat([summary(history(t)) for t in ("mix-unknown-50", "known", "idk-mix-unknown-50")])
    predictions = pd.concat(
        [
            preds("mix-unknown-50-early_stop", [1, 0, 0, 0]),
            preds("mix-unknown-50-convergence", [1, 1, 0, 0]),
            preds("known-early_stop", [1, 1, 1, 0], testset="ood"),
        ]
    )  # OOD: not a test point
    test = s1_linear_fit.test_points(counts, summ, predictions)
    assert list(test["stage"]) == ["early_stop", "convergence"]
    assert list(test["epoch"]) == [2, 4]
    assert list(test["acc"]) == [0.25, 0.5]
    assert list(test["n_unknown_fit"]) == [4, 8]


def test_linear_fit_table_recovers_coefficients_and_flags_small_fits():
    rng = np.random.default_rng(1)
    kn, unk = rng.random(12), rng.random(12)
    points = pd.DataFrame(
        {
            "model": "m",
            "dataset": "d",
            "training_set": [f"s{i % 3}" for i in range(12)],
            "fit": s1_linear_fit.FIT_DEV,
            "frac_known_fit": kn,
            "frac_unknown_fit": unk,
            "acc": 0.3 + 0.1 * kn - 0.2 * unk,
        }
    )
    few = points.iloc[:3].assign(fit=s1_linear_fit.FIT_TEST)
    table = s1_linear_fit.build_table(pd.concat([points, few]))
    row = table.set_index("fit").loc[s1_linear_fit.FIT_DEV]
    assert (row["b0"], row["b_kn"], row["b_unk"]) == pytest.approx((0.3, 0.1, -0.2))
    assert row["status"] == "ok" and row["n"] == 12
    small = table.set_index("fit").loc[s1_linear_fit.FIT_TEST]
    assert np.isnan(small["b0"]) and "need >= 4" in small["status"]
    shown = s1_linear_fit.display_table(table)
    assert shown.loc[shown.fit == s1_linear_fit.FIT_DEV, "b_unk"].iloc[0].startswith("-20.0")


def test_linear_fit_report(tmp_path):
    sets = ["known", "mix-unknown-25", "mix-unknown-50", "unknown"]
    hists = [history(t, n_known=10 - 3 * i, n_unknown=3 * i + 1) for i, t in enumerate(sets)]
    hp, hmeta = paths_of(tmp_path / "h", hists, HISTORY_SCHEMA, ["model", "dataset", "training_set"])
    sp, _ = paths_of(tmp_path / "s", [summary(h) for h in hists], SUMMARY_SCHEMA, ["model", "dataset", "training_set"])
    frames = [
        preds(f"{t}-{s}", np.arange(8) < 6 - i - (s == "convergence"))
        for i, t in enumerate(sets)
        for s in ("early_stop", "convergence")
    ]
    pp, pmeta = paths_of(tmp_path / "p", frames, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    table = publish(
        tmp_path,
        "fit",
        "s1_linear_fit",
        {"histories": (hp, hmeta), "summaries": (sp, hmeta), "predictions": (pp, pmeta)},
        known=KNOWN,
        unknown=UNKNOWN,
    )
    assert set(table["fit"]) == {s1_linear_fit.FIT_DEV, s1_linear_fit.FIT_TEST}
    assert table.set_index("fit")["n"].to_dict() == {s1_linear_fit.FIT_DEV: 16, s1_linear_fit.FIT_TEST: 8}
    assert_outputs(tmp_path, "fit")
    assert "36.9" in (tmp_path / "fit.md").read_text()
    short = history("known", epochs=3)  # 3 points < 4 for 3 parameters
    hp, hmeta = paths_of(tmp_path / "h3", [short], HISTORY_SCHEMA, ["model", "dataset", "training_set"])
    sp, _ = paths_of(tmp_path / "s3", [summary(short)], SUMMARY_SCHEMA, ["model", "dataset", "training_set"])
    with pytest.raises(ValueError, match="no linear fit.*need >= 4"):
        publish(
            tmp_path,
            "f2",
            "s1_linear_fit",
            {"histories": (hp, hmeta), "summaries": (sp, hmeta)},
            known=KNOWN,
            unknown=UNKNOWN,
        )


# ---- significance -------------------------------------------------------------------------------
def test_chunks_are_seeded_equal_sized_and_cover_all_items():
    ids = [f"q{i:03d}" for i in range(103)]
    a = np.arange(103) % 2
    ca, cb = s1_significance.chunk_accuracies(ids, a, a, 10, 0)
    assert len(ca) == 10 and np.array_equal(ca, cb)
    again = s1_significance.chunk_accuracies(ids, a, a, 10, 0)[0]
    assert np.array_equal(ca, again)
    # chunk sizes 11/10 -> weighted mean of chunk means is the overall mean
    sizes = np.array([11] * 3 + [10] * 7)
    assert (ca * sizes).sum() / 103 == pytest.approx(a.mean())
    # order of the input rows does not matter (items are sorted by id first)
    perm = np.random.default_rng(5).permutation(103)
    shuffled = s1_significance.chunk_accuracies(np.array(ids)[perm], a[perm], a[perm], 10, 0)[0]
    assert np.array_equal(ca, shuffled)
    assert len(s1_significance.chunk_accuracies(ids[:4], a[:4], a[:4], 100, 0)[0]) == 4


def test_t_test_identical_inputs_are_not_significant_and_a_real_gap_is():
    x = np.array([0.5, 0.6, 0.4, 0.7])
    assert s1_significance.paired_t_test(x, x) == (0.0, 1.0)
    t, p = s1_significance.paired_t_test(x + [0.1, 0.12, 0.09, 0.11], x)
    assert t > 0 and p < 0.05
    with pytest.raises(ValueError):
        s1_significance.paired_t_test([1.0], [0.0])


def test_significance_table_and_report(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.random(400) < 0.7
    bad = good & (rng.random(400) < 0.6)
    frames = [
        preds("mix-unknown-0-early_stop", good),
        preds("mix-unknown-50-early_stop", bad),
        preds("same-early_stop", good),
    ]
    comparisons = [
        ("mix-unknown-0-early_stop", "mix-unknown-50-early_stop"),
        ("mix-unknown-0-early_stop", "same-early_stop"),
        ("missing-early_stop", "same-early_stop"),
    ]
    table = s1_significance.build_table(pd.concat(frames), comparisons, 20, 0)
    assert len(table) == 2
    real, null = table.iloc[0], table.iloc[1]
    assert real["p"] < 0.05 and real["diff"] > 0 and real["n_chunks"] == 20
    assert null["p"] == 1.0 and null["diff"] == 0
    paths, meta = paths_of(tmp_path, frames, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    publish(
        tmp_path,
        "sig",
        "s1_significance",
        {"predictions": (paths, meta)},
        comparisons=[list(c) for c in comparisons],
        n_chunks=20,
        seed=0,
    )
    assert_outputs(tmp_path, "sig")
    assert " *" in (tmp_path / "sig.md").read_text()
    with pytest.raises(ValueError, match="none of the comparisons"):
        publish(
            tmp_path,
            "sig2",
            "s1_significance",
            {"predictions": (paths, meta)},
            comparisons=comparisons[2:],
            n_chunks=20,
            seed=0,
        )


def test_significance_rejects_mismatched_items():
    frames = [preds("a-early_stop", [1, 0, 1]), preds("b-early_stop", [1, 0, 1], ids=["x", "y", "z"])]
    with pytest.raises(ValueError, match="different test items"):
        s1_significance.build_table(pd.concat(frames), [("a-early_stop", "b-early_stop")], 2, 0)


# ---- I don't know ------------------------------------------------------------------------------
def test_answered_uses_normalised_idk():
    got = s1_idk.answered(["I don't know", "i dont know.", "  I DON'T KNOW ", "France", "", "I know"])
    assert list(got) == [False, False, False, True, True, True]


def test_idk_table():
    idk_pred = ["I don't know"] * 4 + ["France"] * 4
    frames = [
        preds("idk-mix-unknown-50-early_stop", [0, 0, 0, 0, 1, 1, 1, 0], prediction=idk_pred),
        preds("mix-unknown-50-early_stop", [1, 0, 0, 0, 1, 1, 0, 0]),
    ]
    table = s1_idk.build_table(
        pd.concat(frames), [("idk-mix-unknown-50-early_stop", "mix-unknown-50-early_stop")], 200, 0.95, 0
    ).set_index("role")
    assert table.loc["idk", "answer_rate"] == 0.5 and table.loc["plain", "answer_rate"] == 1.0
    assert table.loc["idk", "em"] == pytest.approx(3 / 8)
    assert table.loc["idk", "answered_em"] == pytest.approx(3 / 4) and table.loc["idk", "answered_em_n"] == 4
    assert table.loc["plain", "answered_em"] == pytest.approx(3 / 8)
    assert table.loc["idk", "answer_rate_low"] < 0.5 < table.loc["idk", "answer_rate_high"]


def test_idk_report(tmp_path):
    frames = [
        preds("idk-mix-unknown-50-early_stop", [0, 1, 1, 0], prediction=["I don't know", "a", "b", "c"]),
        preds("mix-unknown-50-early_stop", [1, 1, 0, 0]),
    ]
    paths, meta = paths_of(tmp_path, frames, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    pairs = [("idk-mix-unknown-50-early_stop", "mix-unknown-50-early_stop")]
    table = publish(
        tmp_path, "idk", "s1_idk", {"predictions": (paths, meta)}, pairs=pairs, n_resamples=100, confidence=0.95, seed=0
    )
    assert len(table) == 2
    assert_outputs(tmp_path, "idk")
    with pytest.raises(ValueError, match="none of the pairs"):
        publish(
            tmp_path,
            "i2",
            "s1_idk",
            {"predictions": (paths, meta)},
            pairs=[("x-early_stop", "y-early_stop")],
            n_resamples=100,
            confidence=0.95,
            seed=0,
        )


# ---- S2: OOD gap -------------------------------------------------------------------------------
def ood_frames():
    return [
        preds("known-early_stop", [1, 1, 1, 0]),
        preds("unknown-early_stop", [1, 0, 0, 0]),
        preds("known-early_stop", [1, 0, 1, 0], testset="ood"),
        preds("unknown-early_stop", [1, 0, 1, 0], testset="ood"),
        preds("base", [1, 1, 0, 0], testset="ood"),
    ]


def test_ood_gap_table():
    sim = pd.DataFrame([{"model": "m", "dataset": "d", "centroid_cosine": 0.55, "mean_pairwise_cosine": 0.2}])
    table = s2_ood_gap.build_table(pd.concat(ood_frames()), sim, 200, 0.95, 0).set_index("testset")
    assert list(table.index) == ["test", "ood"]
    assert table.loc["test", "gap"] == pytest.approx(0.5) and table.loc["ood", "gap"] == 0
    assert table.loc["ood", "gap_low"] == table.loc["ood", "gap_high"] == 0  # identical answers
    assert table.loc["ood", "base_em"] == 0.5 and np.isnan(table.loc["test", "base_em"])
    assert table.loc["ood", "centroid_cosine"] == 0.55 and np.isnan(table.loc["test", "centroid_cosine"])
    shown = s2_ood_gap.display_table(table.reset_index())
    assert list(shown["testset"]) == ["ID", "OOD"]


def test_ood_gap_report(tmp_path):
    paths, meta = paths_of(tmp_path, ood_frames(), PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    write_json(
        {"centroid_cosine": 0.6, "mean_pairwise_cosine": 0.3, "n_id": 4, "n_ood": 4, "model": "x"},
        tmp_path / "sim.json",
    )
    table = publish(
        tmp_path,
        "ood",
        "s2_ood_gap",
        {"predictions": (paths, meta), "similarity": ([tmp_path / "sim.json"], [{"model": "m", "dataset": "d"}])},
        n_resamples=100,
        confidence=0.95,
        seed=0,
    )
    assert table.loc[table.testset == "ood", "centroid_cosine"].iloc[0] == 0.6
    assert_outputs(tmp_path, "ood")
    with pytest.raises(ValueError, match="no OOD predictions"):
        publish(
            tmp_path,
            "o2",
            "s2_ood_gap",
            {"predictions": (paths[:2], meta[:2])},
            n_resamples=100,
            confidence=0.95,
            seed=0,
        )


# ---- S2: popularity ----------------------------------------------------------------------------
def test_popularity_buckets_are_equal_sized_and_ordered():
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=100)
    labels, bounds = s2_popularity.popularity_buckets(values, 4)
    assert np.bincount(labels).tolist() == [25, 25, 25, 25]
    for b in range(3):
        assert values[labels == b].max() <= values[labels == b + 1].min()
        assert bounds[b][1] <= bounds[b + 1][0]
    assert bounds[0][0] == values.min() and bounds[-1][1] == values.max()
    ties = np.array([1.0] * 7 + [2.0] * 3)
    tlabels, _ = s2_popularity.popularity_buckets(ties, 3)
    assert sorted(np.bincount(tlabels).tolist()) == [3, 3, 4]
    assert len(s2_popularity.popularity_buckets([3.0, 1.0], 5)[1]) == 2
    with pytest.raises(ValueError):
        s2_popularity.popularity_buckets([], 4)
    with pytest.raises(ValueError):
        s2_popularity.popularity_buckets([1.0, np.nan], 2)


def test_popularity_table():
    pop = [float(i) for i in range(8)]
    known = [0, 0, 1, 1, 1, 1, 1, 1]  # popular items right
    unknown = [0, 0, 0, 0, 1, 1, 0, 0]
    frames = [
        preds("known-early_stop", known, popularity=pop),
        preds("unknown-early_stop", unknown, popularity=pop),
        preds("base", [0, 0, 0, 1, 1, 1, 1, 1], popularity=pop),
        preds("known-early_stop", [1] * 3, popularity=[None, 1.0, 2.0], testset="ood", ids=["o1", "o2", "o3"]),
    ]
    table = s2_popularity.build_table(pd.concat(frames), 2, 200, 0.95, 0)
    assert list(table["bucket"]) == [1, 2]
    assert list(table["popularity_low"]) == [0, 4] and list(table["popularity_high"]) == [3, 7]
    assert list(table["known_em"]) == [0.5, 1.0] and list(table["unknown_em"]) == [0.0, 0.5]
    assert list(table["gap"]) == [0.5, 0.5] and list(table["base_em"]) == [0.25, 1.0]
    assert (table["known_em_n"] == 4).all()


def test_popularity_report(tmp_path):
    pop = [float(i) for i in range(12)]
    frames = [
        preds(v, np.arange(12) % 3 == 0, popularity=pop)
        for v in ("known-early_stop", "unknown-early_stop", "known-convergence", "unknown-convergence", "base")
    ]
    paths, meta = paths_of(tmp_path, frames, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    table = publish(
        tmp_path,
        "pop",
        "s2_popularity",
        {"predictions": (paths, meta)},
        n_buckets=3,
        n_resamples=100,
        confidence=0.95,
        seed=0,
    )
    assert len(table) == 6
    assert_outputs(tmp_path, "pop")
    nopop = [preds("known-early_stop", [1, 0], popularity=[None, None])]
    p2, m2 = paths_of(tmp_path / "n", nopop, PREDICTION_SCHEMA, ["model", "dataset", "testset"])
    with pytest.raises(ValueError, match="popularity"):
        publish(
            tmp_path,
            "p2",
            "s2_popularity",
            {"predictions": (p2, m2)},
            n_buckets=3,
            n_resamples=100,
            confidence=0.95,
            seed=0,
        )


def test_ols_r2_is_nan_for_a_constant_response_and_matches_scipy_otherwise():
    from scipy import stats

    x = np.array([0.1, 0.35, 0.2, 0.7, 0.55, 0.9, 0.05, 0.4, 0.3, 0.8])
    constant = np.full(10, 0.3)  # the TSS of ten 0.3s is ~1e-33 in floating point, not 0
    assert np.isnan(s1_linear_fit.ols_fit(x, constant)["r2"])
    assert np.isnan(s1_linear_fit.ols_fit(np.column_stack([x, x[::-1]]), constant)["r2"])
    y = 0.2 + 0.5 * x + np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02, -0.03, 0.01, 0.0, -0.01])
    assert s1_linear_fit.ols_fit(x, y)["r2"] == pytest.approx(stats.linregress(x, y).rvalue ** 2, rel=1e-12)
