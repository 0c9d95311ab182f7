# S2 on WikiBios (s2.wikibios): Known / Unknown people of S3's bio set by the base model's FActScore, LoRA
# SFT on their reference bios, then the fine-tuned models' bios of the test people go through S3's
# extract_facts, verify_facts and score_bios. Library: factgap.bio_sft; input functions in
# common/inputs.smk. Included after S3's rules (it reads S3_PEOPLE).


rule build_bio_training_sets:
    """Known and Unknown training people (top and bottom share by the base model's bio FActScore) with
    their reference bios, and the test people with the category of their base FActScore."""
    input:
        people=LAYOUT.people("{people}"),
        train_scores=LAYOUT.s3_file("{model}", "{people}", naming.BASE, "scores-train"),
        test_scores=LAYOUT.s3_file("{model}", "{people}", naming.BASE, "scores-test"),
        code=library_sources("factgap.bio_sft"),
    output:
        known=LAYOUT.bio_set("{model}", "{people}", f"train-{naming.KNOWN_SET}"),
        unknown=LAYOUT.bio_set("{model}", "{people}", f"train-{naming.UNKNOWN_SET}"),
        test=LAYOUT.bio_set("{model}", "{people}", "test"),
    log:
        LAYOUT.log("build_bio_training_sets", "{model}", "{people}"),
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
    localrule: True
    params:
        verifier=s3_design.primary_verifier(config),
        share=config["s2"]["wikibios"]["share"],
        max_words=config["s2"]["wikibios"]["max_words"],
        prompt=bio_request_template,
        seed=config["seed"],
    script:
        "../../scripts/build_bio_training_sets.py"


rule train_bio_lora:
    """LoRA SFT on one bio set; after every epoch the dev people's greedy bios, their atomic facts judged
    by the rules verifier, pick the early-stop epoch. The same run layout, resume and export as train_lora."""
    input:
        manifest=model_manifest,
        train=LAYOUT.bio_set("{model}", "{people}", "train-{trainset}"),
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.bio_sft", "factgap.train"),
    output:
        early_stop=directory(f"{LAYOUT.training_dir('{model}', '{people}', 'sft', '{trainset}')}/early_stop"),
        convergence=directory(f"{LAYOUT.training_dir('{model}', '{people}', 'sft', '{trainset}')}/convergence"),
        history=LAYOUT.history("{model}", "{people}", "sft", "{trainset}"),
        summary=LAYOUT.summary("{model}", "{people}", "sft", "{trainset}"),
    log:
        LAYOUT.log("train_bio_lora", "{model}", "{people}", "{trainset}"),
    benchmark:
        LAYOUT.benchmark("train_bio_lora", "{model}", "{people}", "{trainset}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        trainset=f"{naming.KNOWN_SET}|{naming.UNKNOWN_SET}",
    threads: 1
    params:
        run_dir=f"{LAYOUT.training_dir('{model}', '{people}', 'sft', '{trainset}')}/run",
        training=config["training"],
        learning_rate=learning_rate_of,
        generation=bio_training_generation,
        verify=config["s3"]["verify"],
        dev_people=config["s2"]["wikibios"]["dev_people"],
        seed=config["seed"],
    script:
        "../../scripts/train_bio_lora.py"


rule generate_sft_bios:
    """Bios of the test people by a model fine-tuned on Known or Unknown people's bios (greedy)."""
    input:
        manifest=model_manifest,
        adapter=bio_adapter_of_variant,
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.s3_file("{model}", "{people}", "{variant}", "bios-{split}"),
    log:
        LAYOUT.log("generate_sft_bios", "{model}", "{people}", "{variant}", "{split}"),
    benchmark:
        LAYOUT.benchmark("generate_sft_bios", "{model}", "{people}", "{variant}", "{split}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        variant=SFT_BIO_VARIANT_PATTERN,
        split="test",
    threads: 1
    params:
        generation=s3_generation_of_people,
        backend=config["backend"],
        seed=config["seed"],
    script:
        "../../scripts/generate_bios.py"
