rule plot_s2_factuality_gap:
    """S2 Table 1 analogue: Known- vs Unknown-trained, early stop vs convergence (0-shot EM)."""
    input:
        predictions=s2_predictions(["zero_shot"]),
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_factuality_gap"),
    output:
        png=f"{RESULTS}/figures/s2_factuality_gap.png",
        csv=f"{RESULTS}/tables/s2_factuality_gap.csv",
        md=f"{RESULTS}/tables/s2_factuality_gap.md",
        provenance=f"{RESULTS}/tables/s2_factuality_gap.provenance.json",
    params:
        meta=prediction_meta(s2_predictions(["zero_shot"])),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_factuality_gap.log",
    script:
        "../scripts/plot_s2_factuality_gap.py"


rule plot_s2_icl_gains:
    """S2 Table 3 analogue: 4-shot and 4-shot CoT gains over 0-shot for every model variant."""
    input:
        predictions=s2_predictions(config["evaluation"]["prompts"]),
        **report_provenance_inputs(),
        code=library_sources("factgap.reports.s2_icl_gains"),
    output:
        png=f"{RESULTS}/figures/s2_icl_gains.png",
        csv=f"{RESULTS}/tables/s2_icl_gains.csv",
        md=f"{RESULTS}/tables/s2_icl_gains.md",
        provenance=f"{RESULTS}/tables/s2_icl_gains.provenance.json",
    params:
        meta=prediction_meta(s2_predictions(config["evaluation"]["prompts"])),
        analysis=config["analysis"],
        seed=config["seed"],
        science=science_config(),
    log:
        f"{RESULTS}/logs/plot_s2_icl_gains.log",
    script:
        "../scripts/plot_s2_icl_gains.py"
