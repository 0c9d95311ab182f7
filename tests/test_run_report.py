"""Run-level report items (cost per rule, merged provenance) and the report captions."""

import importlib
import math
import pkgutil

import pandas as pd
import pytest

import factgap.reports
from factgap.reports.common import caption_rst, rst_text
from factgap.run_report import conflicting_keys, cost_table, merge_provenance, publish_run_report, read_benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root, rel, seconds, cpu, rss):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t90\t{cpu}\n")


def test_cost_table_sums_jobs_per_rule_and_counts_gpu_hours_from_the_profile(tmp_path):
    _bench(tmp_path, "train_lora/m/d/known.tsv", 3600, 7200, 5000)
    _bench(tmp_path, "train_lora/m/d/unknown.tsv", 1800, 3600, 6000)
    _bench(tmp_path, "probe_knowledge/m/d.tsv", 600, 500, "NA")
    costs = cost_table(read_benchmarks(tmp_path), {"train_lora": 2})
    train = costs[costs["rule"] == "train_lora"].iloc[0]
    assert train["jobs"] == 2 and train["wall_hours"] == pytest.approx(1.5) and train["cpu_hours"] == pytest.approx(3.0)
    assert train["gpu_hours"] == pytest.approx(3.0) and train["peak_rss_mb"] == 6000 and train["longest_job_s"] == 3600
    probe = costs[costs["rule"] == "probe_knowledge"].iloc[0]
    assert probe["gpu_hours"] == 0 and math.isnan(probe["peak_rss_mb"])  # "NA": not measured, not zero
    assert list(costs["rule"]) == ["train_lora", "probe_knowledge", "all rules"]  # most expensive first
    total = costs.iloc[-1]
    assert total["jobs"] == 3 and total["wall_hours"] == pytest.approx(5400 / 3600 + 600 / 3600)


def test_provenance_merge_lists_each_value_and_flags_tables_built_from_different_inputs():
    record = {
        "config": {"seed": 0, "analysis": {"confidence": 0.95}},
        "models": {"m.json": {"origin": "pkg:x.gguf", "origin_sha256": "ab"}},
        "inputs": {"data:q.parquet": {"path": "q.parquet", "sha256": "11"}},
        "packages": {"torch": "2.13.0"},
    }
    changed = {**record, "inputs": {"data:q.parquet": {"path": "q.parquet", "sha256": "22"}}}
    merged = merge_provenance({"t1": record, "t2": record})
    assert conflicting_keys(merged) == []
    row = merged[(merged["section"] == "config") & (merged["key"] == "analysis.confidence")].iloc[0]
    assert row["value"] == "0.95" and row["tables"] == 2 and row["recorded_by"] == "t1 t2"
    assert list(dict.fromkeys(merged["section"])) == ["model", "data", "package", "config"]
    assert conflicting_keys(merge_provenance({"t1": record, "t2": changed})) == ["data:q.parquet"]


def test_publish_run_report_refuses_a_run_without_benchmark_files(tmp_path):
    with pytest.raises(ValueError, match="no benchmark files"):
        publish_run_report(str(tmp_path / "benchmarks"), {}, [], {})


def test_caption_text_cannot_inject_markup():
    text = rst_text("gap_ *bold* `code` |sub| {{ snakemake.config }} 50%")
    assert "\\_" in text and "\\*bold\\*" in text and text.startswith("{% raw %}") and text.endswith("{% endraw %}")
    from docutils.core import publish_parts
    from jinja2 import Environment

    rendered = Environment().from_string(caption_rst("T", "shows_", "paper", "run {x}", "notes", "")).render()
    html = publish_parts(rendered, writer="html", settings_overrides={"report_level": 2})["body"]
    assert "System Message" not in html and "shows_" in html and "run {x}" in html


REPORT_MODULES = [
    m.name
    for m in pkgutil.iter_modules(factgap.reports.__path__)
    if m.name.startswith(("s1_", "s2_", "s3_", "s4_")) and not m.name.endswith("_common")
]


def test_every_study_report_module_is_checked():
    assert len(REPORT_MODULES) == 19


@pytest.mark.parametrize("name", REPORT_MODULES)
def test_every_report_module_says_what_the_paper_found(name):
    finding = importlib.import_module(f"factgap.reports.{name}").PAPER_FINDING
    assert isinstance(finding, str) and len(finding) > 40 and len(finding.split()) > 10


@pytest.mark.parametrize("name", REPORT_MODULES)
def test_describe_of_an_empty_table_does_not_raise(name):
    assert importlib.import_module(f"factgap.reports.{name}").describe(pd.DataFrame())


def test_cost_finding_names_the_most_expensive_rules(tmp_path):
    from factgap.run_report import costs_finding

    _bench(tmp_path, "train_lora/a.tsv", 120, 200, 100)
    _bench(tmp_path, "evaluate_model/a.tsv", 60, 50, 100)
    text = costs_finding(cost_table(read_benchmarks(tmp_path), {}))
    assert text.startswith("2 benchmarked jobs took 3.0 min") and "train_lora 2.0 min over 1 jobs" in text
