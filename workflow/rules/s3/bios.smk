rule generate_bios:
    """One variant's answers for a set's people (bios) or topics: a greedy response each, plus samples
    for the training people (base model only: the preference pairs)."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
    params:
        generation=s3_generation_of_people,
        backend=config["backend"],
        seed=config["seed"],
    log:
        LAYOUT.log("generate_bios", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("generate_bios", "{model}", "{people}", "{variant}", "{split}")
    threads: threads_of_variant_job
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/generate_bios.py"
