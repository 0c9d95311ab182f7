# factgap: fine-tuning on known vs unknown knowledge, and what it does to factuality.
# Table of contents only: the stages live in workflow/rules/, the logic in src/factgap/.
# Default config: config/config.yaml; `--configfile X` replaces it (not merged into it).

if not workflow.config_settings.configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


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
    s1,
    s2,
    prepare_dataset,
    build_training_set,
    build_eval_sets,
    plot_s2_factuality_gap,
    plot_s2_icl_gains,
    plot_s2_ood_gap,
    plot_s2_popularity,
    plot_s1_training_dynamics,
    plot_s1_category_accuracy,
    plot_s1_linear_fit,
    plot_s1_significance,
    plot_s1_idk,


rule all:
    """Every table and figure of the studies enabled in config (studies:)."""
    input:
        s2_figures() if "s2" in config["studies"] else [],
        s1_figures() if "s1" in config["studies"] else [],
    default_target: True


rule s2:
    """Study S2 (Gong et al. 2025): Known vs Unknown fine-tuning, OOD decay, in-context mitigation."""
    input:
        s2_figures(),


rule s1:
    """Study S1 (Gekhman et al. 2024): fitting dynamics of Unknown examples and their cost."""
    input:
        s1_figures(),
