"""Where every result lives: each path is written here once, together with its metadata.

Rules call these with wildcard names (``layout.probe("{model}", "{dataset}")``) to get their
patterns, and study designs call them with real names to get the files a report needs. A report
receives each file's metadata from here, never by parsing a path back by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product

from factgap.naming import Variant


@dataclass(frozen=True)
class ResultFile:
    """A result file and what identifies it (the columns a report adds to the file's rows)."""

    path: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ResultsLayout:
    root: str
    # prepared models live apart when given: they do not depend on the seed, a seed sweep shares them
    models_root: str | None = None

    def _p(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def _model(self, *parts: str) -> str:
        if self.models_root is None:
            return self._p("models", *parts)
        return "/".join([self.models_root.rstrip("/"), *parts])

    # ---- shared stages --------------------------------------------------------------------
    def model_manifest(self, model: str) -> str:
        return self._model(model, "model.json")

    def model_checkpoint(self, model: str) -> str:
        return self._model(model, "checkpoint")

    def hub_record(self, item: str) -> str:
        """Commit and snapshot folder of a prefetched Hub item (beside the models: a seed sweep shares them)."""
        return self._model("hub", f"{item}.json")

    def questions(self, dataset: str) -> str:
        return self._p("data", dataset, "questions.parquet")

    def probe(self, model: str, dataset: str) -> str:
        return self._p("probe", model, f"{dataset}.parquet")

    def training_set(self, model: str, dataset: str, training_set: str) -> str:
        return self._p("splits", model, dataset, f"train-{training_set}.parquet")

    def eval_set(self, model: str, dataset: str, name: str) -> str:
        """dev, test or ood split of a QA dataset, with base-model knowledge categories."""
        return self._p("splits", model, dataset, f"{name}.parquet")

    def exemplars(self, model: str, dataset: str) -> str:
        return self._p("exemplars", model, f"{dataset}.parquet")

    def training_dir(self, model: str, dataset: str, method: str, training_set: str) -> str:
        return self._p("train", model, dataset, method, training_set)

    def adapter(self, model: str, dataset: str, variant: Variant) -> str:
        return f"{self.training_dir(model, dataset, variant.method, variant.training_set)}/{variant.checkpoint}"

    def history(self, model: str, dataset: str, method: str, training_set: str) -> str:
        return f"{self.training_dir(model, dataset, method, training_set)}/history.parquet"

    def summary(self, model: str, dataset: str, method: str, training_set: str) -> str:
        return f"{self.training_dir(model, dataset, method, training_set)}/summary.parquet"

    def prediction(self, model: str, dataset: str, testset: str, variant_path: str, prompt: str) -> str:
        return self._p("eval", model, dataset, testset, variant_path, f"{prompt}.parquet")

    def ood_similarity(self, model: str, dataset: str) -> str:
        return self._p("analysis", model, dataset, "ood_similarity.json")

    # ---- S3 (bios, atomic facts, FActScore) --------------------------------------------------
    def people(self, people: str) -> str:
        """The people of a bio set with their knowledge, tier and split."""
        return self._p("s3", "people", f"{people}.parquet")

    def s3_file(self, model: str, people: str, variant_path: str, name: str) -> str:
        """bios-<split>, facts-<split>, verdicts-<split>-<verifier>, scores-<split>, knowledge-<split>, mmlu,
        ood-qa-<set> (.parquet)."""
        return self._p("s3", model, people, variant_path, f"{name}.parquet")

    def bio_set(self, model: str, people: str, name: str) -> str:
        """S2 on bios: train-known / train-unknown (reference bios) and test (people with their category)."""
        return self._p("s3", model, people, "bio-sets", f"{name}.parquet")

    def preference_pairs(self, model: str, people: str, sampler: str, pair_set: str, part: str) -> str:
        """Training (part=train) or dev pairs of one pair set; sampler: facttune (all scored pairs) or rso."""
        return self._p("s3", model, people, "pairs", sampler, f"{pair_set}-{part}.parquet")

    def token_shift(self, model: str, people: str, variant_path: str) -> str:
        """Per-response token ranks of a tuned variant's greedy outputs under the base model."""
        return self._p("s3", model, people, variant_path, "token-shift.parquet")

    def claim_results(self, model: str, people: str) -> str:
        """Every verifier's decisions on the labelled claim set (the judge of ``model``'s bios)."""
        return self._p("s3", model, people, "claims.parquet")

    def verifier_calibration(self, model: str, people: str) -> str:
        return self._p("s3", model, people, "verifiers.json")

    def llm_cache(self, judge: str, purpose: str) -> str:
        """Disk cache of a judge's calls, a folder of per-job shards (kept across reruns: never a rule output)."""
        return self._p("cache", "llm", judge, purpose)

    def s3_files(
        self, models: Sequence[str], people: str, variant_path: str, name: str, **meta: str
    ) -> list[ResultFile]:
        return [ResultFile(self.s3_file(m, people, variant_path, name), {"model": m, **meta}) for m in models]

    # ---- S4 (multiple choice) -----------------------------------------------------------------
    def mc_items(self, mcset: str) -> str:
        """A multiple-choice set (the domain set, or mmlu) with its dev / train / test splits."""
        return self._p("mc", mcset, "items.parquet")

    def mc_probe(self, model: str, mcset: str) -> str:
        return self._p("s4", model, mcset, "probe.parquet")

    def s4_file(self, model: str, dataset: str, name: str) -> str:
        """sets.parquet, sets.json (sizes, confidence), dev.parquet, texts.parquet, train-<set>.parquet."""
        return self._p("s4", model, dataset, name)

    def mc_prediction(self, model: str, dataset: str, variant_path: str) -> str:
        return self._p("s4", model, dataset, "eval", variant_path, "zero_shot.parquet")

    def mc_probes(self, models: Sequence[str], mcsets: Sequence[str]) -> list[ResultFile]:
        return [ResultFile(self.mc_probe(m, s), {"model": m, "mcset": s}) for m, s in product(models, mcsets)]

    def mc_predictions(self, models: Sequence[str], dataset: str, variants: Iterable[Variant]) -> list[ResultFile]:
        return [
            ResultFile(self.mc_prediction(m, dataset, v.path), {"model": m, "dataset": dataset})
            for m, v in product(models, list(variants))
        ]

    # ---- published reports, logs, benchmarks ----------------------------------------------
    def report_outputs(self, name: str) -> dict[str, str]:
        """The four files of a published table/figure."""
        return {
            "png": self._p("figures", f"{name}.png"),
            "csv": self._p("tables", f"{name}.csv"),
            "md": self._p("tables", f"{name}.md"),
            "provenance": self._p("tables", f"{name}.provenance.json"),
        }

    def report_caption(self, name: str) -> str:
        """The reStructuredText caption of a published table/figure in the Snakemake report."""
        return self._p("tables", f"{name}.caption.rst")

    def run_report_outputs(self) -> dict[str, str]:
        """Run-level report items: cost per rule (from the benchmark files) and the merged provenance."""
        return {
            "costs_csv": self._p("tables", "run_costs.csv"),
            "costs_md": self._p("tables", "run_costs.md"),
            "costs_png": self._p("figures", "run_costs.png"),
            "provenance_csv": self._p("tables", "run_provenance.csv"),
            "caption": self._p("tables", "run_costs.caption.rst"),
            "provenance_caption": self._p("tables", "run_provenance.caption.rst"),
        }

    def benchmarks_root(self) -> str:
        return self._p("benchmarks")

    def seed_summary_outputs(self, study: str) -> dict[str, str]:
        """The files of one study's across-seed summary (``factgap.seeds``)."""
        return {
            **self.report_outputs(f"across_seeds_{study}"),
            "paired_csv": self._p("tables", f"across_seeds_{study}_paired.csv"),
        }

    def figure(self, name: str) -> str:
        return self.report_outputs(name)["png"]

    def log(self, rule: str, *keys: str) -> str:
        return self._p("logs", rule, *keys[:-1], f"{keys[-1]}.log") if keys else self._p("logs", f"{rule}.log")

    def benchmark(self, rule: str, *keys: str) -> str:
        return self._p("benchmarks", rule, *keys[:-1], f"{keys[-1]}.tsv")

    # ---- file sets with their metadata ------------------------------------------------------
    def predictions(
        self,
        models: Sequence[str],
        datasets: Sequence[str],
        variants: Iterable[Variant],
        prompts: Sequence[str],
        testset: str = "test",
    ) -> list[ResultFile]:
        variants = list(variants)
        return [
            ResultFile(self.prediction(m, d, testset, v.path, p), {"model": m, "dataset": d, "testset": testset})
            for m, d, v, p in product(models, datasets, variants, prompts)
        ]

    def histories(
        self, models: Sequence[str], datasets: Sequence[str], training_sets: Sequence[str], method: str = "sft"
    ) -> list[ResultFile]:
        return [
            ResultFile(self.history(m, d, method, t), {"model": m, "dataset": d, "training_set": t})
            for m, d, t in product(models, datasets, training_sets)
        ]

    def summaries(
        self, models: Sequence[str], datasets: Sequence[str], training_sets: Sequence[str], method: str = "sft"
    ) -> list[ResultFile]:
        return [
            ResultFile(self.summary(m, d, method, t), {"model": m, "dataset": d, "training_set": t})
            for m, d, t in product(models, datasets, training_sets)
        ]

    def similarities(self, models: Sequence[str], datasets: Sequence[str]) -> list[ResultFile]:
        return [ResultFile(self.ood_similarity(m, d), {"model": m, "dataset": d}) for m, d in product(models, datasets)]
