rule generate_bios:
    """The base model's answers for a set's people (bios) or topics: a greedy response each, plus samples
    for the training people (the preference pairs). Tuned variants answer in evaluate_tuned_variant."""
    input:
        manifest=model_manifest,
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
    log:
        LAYOUT.log("generate_bios", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("generate_bios", "{model}", "{people}", "{variant}", "{split}")
    wildcard_constraints:
        variant=naming.BASE,
    threads: 2
    params:
        generation=s3_generation_of_people,
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/generate_bios.py"
