# Study S4 (Ren et al. 2024). Design: factgap.studies.s4; stages: this folder; library:
# factgap.s4; reports: factgap.reports.s4_*.


include: "inputs.smk"
include: "mc_data.smk"
include: "probe.smk"
include: "sets.smk"
include: "train.smk"
include: "evaluate.smk"


rule s4:
    """Study S4: HAR / INC / SELF fine-tuning, consistency ratios, rank correlations, KL."""
    input:
        study_figures("s4"),
    localrule: True
