rule evaluate_mmlu:
    """Out of domain (c): 0-shot multiple-choice accuracy of one S3 variant on the MMLU tests
    (s4.mmlu's subjects), scored as S4 scores them."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        mmlu=LAYOUT.mc_items(s4_design.MMLU),
        code=library_sources("factgap.selfalign.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "mmlu"),
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
    params:
        variant=variant_label_of,
        id_subjects=s4_design.id_subjects(config),
        ood_subjects=s4_design.ood_subjects(config),
        s4=config["s4"],
        seed=config["seed"],
    log:
        LAYOUT.log("evaluate_mmlu", "{model}", "{people}", "{variant}"),
    benchmark:
        LAYOUT.benchmark("evaluate_mmlu", "{model}", "{people}", "{variant}")
    threads: 1
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/evaluate_mmlu.py"
