rule write_cot_rationales:
    """Few-shot exemplars from the Known training split, each with a rationale by the rationale model."""
    input:
        manifest=rationale_model_manifest,
        known=LAYOUT.training_set("{model}", "{dataset}", naming.KNOWN_SET),
        test=LAYOUT.eval_set("{model}", "{dataset}", "test"),
        ood=LAYOUT.eval_set("{model}", "{dataset}", "ood"),
        code=library_sources("factgap.evaluate"),
    output:
        LAYOUT.exemplars("{model}", "{dataset}"),
    params:
        n_shots=config["evaluation"]["n_shots"],
        max_new_tokens=config["evaluation"]["rationale_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    log:
        LAYOUT.log("write_cot_rationales", "{model}", "{dataset}"),
    threads: 2
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/write_cot_rationales.py"


rule evaluate_model:
    """Exact match of one model variant (base, or a trained adapter) under one prompt setting,
    on the in-distribution test set (testset=test) or the held-out relations (testset=ood)."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        test=LAYOUT.eval_set("{model}", "{dataset}", "{testset}"),
        exemplars=LAYOUT.exemplars("{model}", "{dataset}"),
        code=library_sources("factgap.evaluate"),
    output:
        LAYOUT.prediction("{model}", "{dataset}", "{testset}", "{variant}", "{prompt}"),
    params:
        variant=variant_label_of,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        cot_max_new_tokens=config["evaluation"]["cot_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    log:
        LAYOUT.log("evaluate_model", "{model}", "{dataset}", "{testset}", "{variant}", "{prompt}"),
    benchmark:
        LAYOUT.benchmark("evaluate_model", "{model}", "{dataset}", "{testset}", "{variant}", "{prompt}")
    threads: 1
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/evaluate_model.py"
