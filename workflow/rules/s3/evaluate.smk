rule evaluate_mmlu:
    """Out of domain (c): 0-shot multiple-choice accuracy of the base model on the MMLU tests
    (s4.mmlu's subjects), scored as S4 scores them (tuned variants: evaluate_tuned_variant)."""
    input:
        manifest=model_manifest,
        mmlu=LAYOUT.mc_items(s4_design.MMLU),
        code=library_sources("factgap.s4.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "mmlu"),
    log:
        LAYOUT.log("evaluate_mmlu", "{model}", "{people}", "{variant}"),
    benchmark:
        LAYOUT.benchmark("evaluate_mmlu", "{model}", "{people}", "{variant}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        variant=naming.BASE,
    threads: 1
    params:
        variant=variant_label_of,
        id_subjects=s4_design.id_subjects(config),
        ood_subjects=s4_design.ood_subjects(config),
        s4=s4_keys(*S4_SCORING_KEYS),
        seed=config["seed"],
    script:
        "../../scripts/evaluate_mmlu.py"


rule evaluate_ood_qa:
    """Out of domain (d): greedy answers of the base model to a configured FPQA / KUQA question set
    (s3.evaluation.ood_qa_sets, a local file), each judged right or wrong (tuned variants:
    evaluate_tuned_variant)."""
    input:
        manifest=model_manifest,
        code=library_sources("factgap.preference.ood_qa"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", s3_design.ood_qa_file_name("{qaset}")),
    log:
        LAYOUT.log("evaluate_ood_qa", "{model}", "{people}", "{variant}", "{qaset}"),
    benchmark:
        LAYOUT.benchmark("evaluate_ood_qa", "{model}", "{people}", "{variant}", "{qaset}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        qaset=S3_QA_SET_PATTERN,
        variant=naming.BASE,
    threads: 2
    params:
        spec=s3_qa_set_spec,
        generation={k: config["s3"]["generation"][k] for k in ("chat_template", "batch_size")},
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/evaluate_ood_qa.py"


rule evaluate_tuned_variant:
    """Every test of one preference-tuned variant in one job (the model loads once): test bios, topic
    answers, QA exact match, FPQA / KUQA, MMLU, then the token shift of its answers under the base model.
    The base model's tests run as separate jobs: S3 part 1 and S1 use them too."""
    input:
        **s3_tuned_variant_data(),
        manifest=model_manifest,
        adapter=adapter_of_variant,
        code=library_sources("factgap.preference.variant_evaluation"),
    output:
        **s3_tuned_variant_outputs(),
    log:
        LAYOUT.log("evaluate_tuned_variant", "{model}", "{variant}"),
    benchmark:
        LAYOUT.benchmark("evaluate_tuned_variant", "{model}", "{variant}")
    wildcard_constraints:
        variant=S3_TUNED_VARIANT_PATTERN,
    # two one-thread jobs side by side do more per second on a CPU than two-thread jobs one after another
    threads: 1
    params:
        variant=variant_label_of,
        settings=s3_tuned_variant_settings(),
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/evaluate_tuned_variant.py"


# a tuned S3 variant's QA predictions come from its one evaluation job, an SFT variant's from evaluate_model
ruleorder: evaluate_tuned_variant > evaluate_model
