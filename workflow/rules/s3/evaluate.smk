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


rule evaluate_ood_qa:
    """Out of domain (d): greedy answers of one S3 variant to a configured FPQA / KUQA question set
    (s3.evaluation.ood_qa_sets, a local file), each judged right or wrong."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        code=library_sources("factgap.preference.ood_qa"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", s3_design.ood_qa_file_name("{qaset}")),
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        qaset=S3_QA_SET_PATTERN,
    params:
        spec=s3_qa_set_spec,
        generation={k: config["s3"]["generation"][k] for k in ("chat_template", "batch_size")},
        backend=config["backend"],
        seed=config["seed"],
    log:
        LAYOUT.log("evaluate_ood_qa", "{model}", "{people}", "{variant}", "{qaset}"),
    benchmark:
        LAYOUT.benchmark("evaluate_ood_qa", "{model}", "{people}", "{variant}", "{qaset}")
    threads: 2
    conda:
        "../../../envs/torch.yaml"
    script:
        "../../scripts/evaluate_ood_qa.py"
