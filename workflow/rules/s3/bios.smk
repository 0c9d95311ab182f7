rule generate_bios:
    """The model's bios of one split's people: one greedy response each (plus samples for training people)."""
    input:
        manifest=model_manifest,
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
    wildcard_constraints:
        variant=naming.BASE,
    params:
        generation=config["s3"]["generation"],
        backend=config["backend"],
        seed=config["seed"],
    log:
        LAYOUT.log("generate_bios", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("generate_bios", "{model}", "{people}", "{variant}", "{split}")
    threads: 2
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/generate_bios.py"
