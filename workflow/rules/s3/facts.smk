rule extract_facts:
    """Atomic facts of every bio (rules, or FActScore's LLM prompt on the judge, cached)."""
    input:
        bios=LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
        people=LAYOUT.people("{people}"),
        judge=s3_extractor_judge_manifest,
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "facts-{split}"),
    log:
        LAYOUT.log("extract_facts", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("extract_facts", "{model}", "{people}", "{variant}", "{split}")
    threads: threads_of_extractor
    params:
        extractor=config["s3"]["extractor"],
        cache=s3_cache("extract"),
        backend=config["backend"],
    script:
        "../../scripts/extract_facts.py"
