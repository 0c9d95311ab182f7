# Study S2 (Gong et al. 2025). Design: factgap.studies.s2; reports: factgap.reports.s2_*.
# Its only stage of its own is the ID-OOD similarity; everything else is a shared stage.


rule measure_ood_similarity:
    """Cosine similarity of ID and OOD test questions in all-MiniLM-L6-v2 space (S2 Table 2)."""
    input:
        test=LAYOUT.eval_set("{model}", "{dataset}", "test"),
        ood=LAYOUT.eval_set("{model}", "{dataset}", "ood"),
        code=library_sources("factgap.similarity", "factgap.hub"),
        hub=hub_records_of("analysis.embedding_model"),
    output:
        LAYOUT.ood_similarity("{model}", "{dataset}"),
    log:
        LAYOUT.log("measure_ood_similarity", "{model}", "{dataset}"),
    threads: 1
    params:
        embedding_model=config["analysis"]["embedding_model"],
    script:
        "../../scripts/measure_ood_similarity.py"


rule s2:
    """Study S2: Known vs Unknown fine-tuning, OOD decay, in-context mitigation."""
    input:
        study_figures("s2"),
    localrule: True
