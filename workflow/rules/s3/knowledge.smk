rule probe_fact_knowledge:
    """Does the model know each fact it stated? S sampled answers to a question asking for it
    (training people: only the facts the primary verifier supports, the atomic pairs' material)."""
    input:
        manifest=model_manifest,
        facts=LAYOUT.s3_file("{model}", "{people}", "{variant}", "facts-{split}"),
        verdicts=s3_supported_verdicts,
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "knowledge-{split}"),
    log:
        LAYOUT.log("probe_fact_knowledge", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("probe_fact_knowledge", "{model}", "{people}", "{variant}", "{split}")
    wildcard_constraints:
        variant=naming.BASE,
        people=re.escape(S3_PEOPLE),
    threads: 2
    params:
        knowledge=config["s3"]["knowledge"],
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/probe_fact_knowledge.py"
