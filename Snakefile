# factgap: fine-tuning on known vs unknown knowledge, and what it does to factuality.
# Table of contents only: the stages live in workflow/rules/, the logic in src/factgap/.
# Default config: config/config.yaml; `--configfile X` replaces it (not merged into it).

if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/splits.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"


localrules:
    all,
    s2,
    prepare_dataset,
    build_training_set,
    build_eval_sets,
    plot_s2_factuality_gap,
    plot_s2_icl_gains,


S2_FIGURES = [f"{RESULTS}/figures/s2_factuality_gap.png", f"{RESULTS}/figures/s2_icl_gains.png"]


rule all:
    """Every table and figure of the studies enabled in config (studies:)."""
    input:
        S2_FIGURES if "s2" in config["studies"] else [],
    default_target: True


rule s2:
    """Study S2 (Gong et al. 2025): Known vs Unknown fine-tuning and in-context mitigation."""
    input:
        S2_FIGURES,
