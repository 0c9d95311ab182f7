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
    log:
        LAYOUT.log("write_cot_rationales", "{model}", "{dataset}"),
    threads: 2
    params:
        n_shots=config["evaluation"]["n_shots"],
        max_new_tokens=config["evaluation"]["rationale_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
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
    log:
        LAYOUT.log("evaluate_model", "{model}", "{dataset}", "{testset}", "{variant}", "{prompt}"),
    benchmark:
        LAYOUT.benchmark("evaluate_model", "{model}", "{dataset}", "{testset}", "{variant}", "{prompt}")
    threads: 1
    params:
        variant=variant_label_of,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        cot_max_new_tokens=config["evaluation"]["cot_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    script:
        "../../scripts/evaluate_model.py"


rule evaluate_model_prompt_modes:
    """Exact match of one trained variant on the in-distribution test set under every prompt mode of
    evaluation.prompts, in one job (the model loads once): the variants S2 compares across prompts. Each
    file is the one evaluate_model would write for that mode."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        test=LAYOUT.eval_set("{model}", "{dataset}", "test"),
        exemplars=LAYOUT.exemplars("{model}", "{dataset}"),
        code=library_sources("factgap.evaluate"),
    output:
        **test_predictions_of_every_prompt(),
    log:
        LAYOUT.log("evaluate_model_prompt_modes", "{model}", "{dataset}", "{variant}"),
    benchmark:
        LAYOUT.benchmark("evaluate_model_prompt_modes", "{model}", "{dataset}", "{variant}")
    wildcard_constraints:
        variant=PROMPT_COMPARISON_VARIANT_PATTERN,
    threads: 1  # as evaluate_model: the same files, the same float sums
    params:
        variant=variant_label_of,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        cot_max_new_tokens=config["evaluation"]["cot_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    script:
        "../../scripts/evaluate_model_prompt_modes.py"


# a trained variant S2 compares across prompts is evaluated on the test set in one job for all prompt modes
ruleorder: evaluate_model_prompt_modes > evaluate_model
