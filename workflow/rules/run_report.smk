# Run-level items of the Snakemake report (`make report`): cost per rule from the benchmark files and
# the provenance of every published table. Runs after every figure of the enabled studies; `make report`
# forces it, so the costs are those of the run just finished.


rule summarize_run:
    input:
        figures=enabled_figures(),
        provenance=enabled_table_provenance(),
        code=library_sources("factgap.run_report"),
    output:
        **run_report_items(),
    log:
        LAYOUT.log("summarize_run"),
    localrule: True
    params:
        benchmarks=LAYOUT.benchmarks_root(),
        gpus=gpus_per_rule(),
    script:
        "../scripts/summarize_run.py"
