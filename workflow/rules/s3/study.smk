# Study S3 (Yuan et al. 2024, APEFT). Design: factgap.studies.s3; stages: this folder; library:
# factgap.factscore (part 1: bios, facts, FActScore, knowledge), factgap.preference (part 2: pairs,
# tuning, token shift, FPQA / KUQA accuracy); reports: factgap.reports.s3_*. QA exact match of the tuned
# variants runs through the shared evaluate_model, MMLU through S4's scoring (evaluate_mmlu).


include: "inputs.smk"
include: "people.smk"
include: "bios.smk"
include: "facts.smk"
include: "verify.smk"
include: "knowledge.smk"
include: "pairs.smk"
include: "tune.smk"
include: "evaluate.smk"


rule s3:
    """Study S3: FActScore by tier, per-fact knowledge, verifier trust; preference tuning and its in- and
    out-of-domain effects, token distribution shift."""
    input:
        study_figures("s3"),
    localrule: True
