rule evaluate_mc:
    """0-shot option distributions of one variant (base or an S4 adapter) on HOMO, ID and OOD."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        domain=LAYOUT.mc_items("{dataset}"),
        mmlu=LAYOUT.mc_items(s4_design.MMLU),
        code=library_sources("factgap.s4.pipeline"),
    output:
        LAYOUT.mc_prediction("{model}", "{dataset}", "{variant}"),
    log:
        LAYOUT.log("evaluate_mc", "{model}", "{dataset}", "{variant}"),
    benchmark:
        LAYOUT.benchmark("evaluate_mc", "{model}", "{dataset}", "{variant}")
    wildcard_constraints:
        dataset=S4_DATASET,
    threads: 1
    params:
        variant=variant_label_of,
        id_subjects=s4_design.id_subjects(config),
        ood_subjects=s4_design.ood_subjects(config),
        s4=s4_keys(*S4_SCORING_KEYS),
        seed=config["seed"],
    script:
        "../../scripts/evaluate_mc.py"
