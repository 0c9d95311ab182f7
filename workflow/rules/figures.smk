# One rule per published table/figure: `snakemake results/figures/<name>.png` (re)builds it and
# only what it needs. Each report module is a separate library file, so editing one figure's code
# reruns that figure alone.
S2_GAP_PREDICTIONS = predictions(s2_variants(), ["zero_shot"])
S2_ICL_PREDICTIONS = predictions(s2_variants(), config["evaluation"]["prompts"])
S2_OOD_PREDICTIONS = predictions(s2_variants()[1:], ["zero_shot"], "test", datasets_with_ood()) + predictions(
    s2_variants()[1:], ["zero_shot"], "ood", datasets_with_ood()
)
S2_POPULARITY_PREDICTIONS = predictions(s2_variants(), ["zero_shot"], "test", datasets_with_popularity())
S1_PREDICTIONS = predictions(s1_variants(), ["zero_shot"])
S1_CATEGORY_PREDICTIONS = predictions(
    s1_variants([single_category_set(c) for c in config["s1"]["single_category_sets"]] + ["known", "unknown"]),
    ["zero_shot"],
)
S1_IDK_PREDICTIONS = predictions([v for pair in s1_idk_pairs() for v in pair], ["zero_shot"])


rule plot_s2_factuality_gap:
    """S2 Table 1 analogue: Known- vs Unknown-trained, early stop vs convergence (0-shot EM)."""
    input:
        predictions=S2_GAP_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_factuality_gap"),
    output:
        **report_outputs("s2_factuality_gap"),
    params:
        meta=prediction_meta(S2_GAP_PREDICTIONS),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_factuality_gap.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s2_factuality_gap.py"


rule plot_s2_icl_gains:
    """S2 Table 3 analogue: 4-shot and 4-shot CoT gains over 0-shot for every model variant."""
    input:
        predictions=S2_ICL_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_icl_gains"),
    output:
        **report_outputs("s2_icl_gains"),
    params:
        meta=prediction_meta(S2_ICL_PREDICTIONS),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_icl_gains.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s2_icl_gains.py"


rule plot_s2_ood_gap:
    """S2 Table 2 analogue: the Known/Unknown gap on held-out relations, next to ID-OOD similarity."""
    input:
        predictions=S2_OOD_PREDICTIONS,
        similarity=similarity_files(),
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_ood_gap"),
    output:
        **report_outputs("s2_ood_gap"),
    params:
        meta=prediction_meta(S2_OOD_PREDICTIONS),
        similarity_meta=similarity_meta(similarity_files()),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_ood_gap.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s2_ood_gap.py"


rule plot_s2_popularity:
    """Exact match and the Known/Unknown gap by subject popularity bucket (not in the papers)."""
    input:
        predictions=S2_POPULARITY_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_popularity"),
    output:
        **report_outputs("s2_popularity"),
    params:
        meta=prediction_meta(S2_POPULARITY_PREDICTIONS),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_popularity.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s2_popularity.py"


rule plot_s1_training_dynamics:
    """S1 headline figure: train accuracy on Known vs Unknown examples and dev accuracy per epoch."""
    input:
        histories=histories([s1_dynamics_set()]),
        summaries=summaries([s1_dynamics_set()]),
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s1_training_dynamics"),
    output:
        **report_outputs("s1_training_dynamics"),
    params:
        history_meta=history_meta(histories([s1_dynamics_set()])),
        splits=config["splits"],
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s1_training_dynamics.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s1_training_dynamics.py"


rule plot_s1_category_accuracy:
    """S1: test accuracy per knowledge category for each single-category model."""
    input:
        predictions=S1_CATEGORY_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s1_category_accuracy"),
    output:
        **report_outputs("s1_category_accuracy"),
    params:
        meta=prediction_meta(S1_CATEGORY_PREDICTIONS),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s1_category_accuracy.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s1_category_accuracy.py"


rule plot_s1_linear_fit:
    """S1: accuracy = b0 + b_kn N_kn/|D| + b_unk N_unk/|D| over fitted Known/Unknown examples."""
    input:
        histories=histories(s1_training_sets()),
        summaries=summaries(s1_training_sets()),
        predictions=S1_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s1_linear_fit"),
    output:
        **report_outputs("s1_linear_fit"),
    params:
        history_meta=history_meta(histories(s1_training_sets())),
        meta=prediction_meta(S1_PREDICTIONS),
        splits=config["splits"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s1_linear_fit.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s1_linear_fit.py"


rule plot_s1_significance:
    """S1: paired t-tests over test chunks (early stop vs convergence; Known vs Unknown)."""
    input:
        predictions=S1_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s1_significance"),
    output:
        **report_outputs("s1_significance"),
    params:
        meta=prediction_meta(S1_PREDICTIONS),
        comparisons=s1_comparisons(),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s1_significance.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s1_significance.py"


rule plot_s1_idk:
    """S1 variant: Unknown examples relabelled "I don't know" vs the plain mixture."""
    input:
        predictions=S1_IDK_PREDICTIONS,
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s1_idk"),
    output:
        **report_outputs("s1_idk"),
    params:
        meta=prediction_meta(S1_IDK_PREDICTIONS),
        pairs=s1_idk_pairs(),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s1_idk.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_s1_idk.py"
