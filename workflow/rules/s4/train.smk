rule train_s4_lora:
    """LoRA SFT on an S4 training set (chat format, loss on the response), 0-shot accuracy on the dev
    items after every epoch; the same run layout, resume and export as train_lora."""
    input:
        manifest=model_manifest,
        train=LAYOUT.s4_file("{model}", "{dataset}", "train-{trainset}.parquet"),
        dev=LAYOUT.s4_file("{model}", "{dataset}", "dev.parquet"),
        code=library_sources("factgap.s4.pipeline", "factgap.train"),
    output:
        early_stop=directory(f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/early_stop"),
        convergence=directory(f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/convergence"),
        history=LAYOUT.history("{model}", "{dataset}", "sft", "{trainset}"),
        summary=LAYOUT.summary("{model}", "{dataset}", "sft", "{trainset}"),
    log:
        LAYOUT.log("train_s4_lora", "{model}", "{dataset}", "{trainset}"),
    benchmark:
        LAYOUT.benchmark("train_s4_lora", "{model}", "{dataset}", "{trainset}")
    wildcard_constraints:
        dataset=S4_DATASET,
    threads: 1
    params:
        run_dir=f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/run",
        training=s4_training_config(),
        learning_rate=s4_learning_rate_of,
        s4=s4_keys(*S4_SCORING_KEYS),
        seed=config["seed"],
    script:
        "../../scripts/train_s4_lora.py"
