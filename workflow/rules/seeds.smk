# Headline numbers over seeds: reads the tables of every seed of config `seeds` (run by
# scripts/seed_sweep.py or a SLURM seed array, each under <results_dir>/seed-<n>); this DAG does not
# run the seeds itself (one Snakemake run per results folder), so a missing seed is a missing input.


rule summarize_seeds:
    """One study over seeds: every table cell per seed with its mean, t-interval and min-max, the
    pooled paired tests of its headline comparisons, and the figure of the per-seed points."""
    input:
        tables=seed_tables_of_study,
        predictions=seed_predictions_of_study,
        code=library_sources("factgap.seeds"),
    output:
        **LAYOUT.seed_summary_outputs("{study}"),
    log:
        LAYOUT.log("summarize_seeds", "{study}"),
    wildcard_constraints:
        study="s1|s2|s3|s4",
    localrule: True
    params:
        seeds=config["seeds"],
        tables=seed_tables_by_seed,
        predictions=seed_predictions_by_seed,
        n_resamples=config["analysis"]["bootstrap_resamples"],
        confidence=config["analysis"]["confidence"],
        science=SCIENCE,
    script:
        "../scripts/summarize_seeds.py"


rule across_seeds:
    """Target: the across-seed summary of every study in config `studies`."""
    input:
        [LAYOUT.seed_summary_outputs(study)["png"] for study in config["studies"]],
    localrule: True
