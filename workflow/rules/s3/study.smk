# Study S3 (Yuan et al. 2024, APEFT), part 1. Design: factgap.studies.s3; stages: this folder;
# library: factgap.factscore; reports: factgap.reports.s3_*.


include: "inputs.smk"
include: "people.smk"
include: "bios.smk"
include: "facts.smk"
include: "verify.smk"
include: "knowledge.smk"


rule s3:
    """Study S3 part 1: FActScore of the model's bios by tier, per-fact knowledge, verifier trust."""
    input:
        study_figures("s3"),
    localrule: True
