rule measure_verifiers:
    """Every verifier on the labelled claim set: llm threshold from its dev part, accuracy and AUC."""
    input:
        people=LAYOUT.people("{people}"),
        judge=s3_verifiers_judge_manifest,
        code=library_sources("factgap.factscore.pipeline"),
    output:
        claims=LAYOUT.claim_results("{model}", "{people}"),
        summary=LAYOUT.verifier_calibration("{model}", "{people}"),
    log:
        LAYOUT.log("measure_verifiers", "{model}", "{people}"),
    benchmark:
        LAYOUT.benchmark("measure_verifiers", "{model}", "{people}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
    threads: 2
    params:
        verifiers=s3_design.verifiers(config),
        claims=config["s3"]["claims"],
        verify=config["s3"]["verify"],
        cache=s3_cache("claims"),
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/measure_verifiers.py"


rule verify_facts:
    """One verifier's verdict on every fact, against the person's top-k knowledge passages."""
    input:
        facts=LAYOUT.s3_file("{model}", "{people}", "{variant}", "facts-{split}"),
        people=LAYOUT.people("{people}"),
        judge=s3_judge_manifest_of_verifier,
        calibration=s3_calibration_of_verifier,
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "verdicts-{split}-{verifier}"),
    log:
        LAYOUT.log("verify_facts", "{model}", "{people}", "{variant}", "{split}-{verifier}"),
    benchmark:
        LAYOUT.benchmark("verify_facts", "{model}", "{people}", "{variant}", "{split}-{verifier}")
    wildcard_constraints:
        verifier="rules|llm",
    threads: threads_of_verifier
    params:
        verify=config["s3"]["verify"],
        cache=s3_cache("verify"),
        backend=config["backend"],
    script:
        "../../scripts/verify_facts.py"


rule score_bios:
    """FActScore of every response under each verifier (with and without the length penalty)."""
    input:
        bios=LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
        people=LAYOUT.people("{people}"),
        facts=LAYOUT.s3_file("{model}", "{people}", "{variant}", "facts-{split}"),
        verdicts=s3_verdicts_of_split,
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "scores-{split}"),
    log:
        LAYOUT.log("score_bios", "{model}", "{people}", "{variant}", "{split}"),
    localrule: True
    params:
        gamma=config["s3"]["gamma"],
    script:
        "../../scripts/score_bios.py"
