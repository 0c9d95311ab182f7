rule train_lora:
    """LoRA SFT with a checkpoint and dev exact match per epoch; exports early-stop and
    convergence adapters. Rerunning a killed job resumes from its last checkpoint (kept in run/)."""
    input:
        manifest=model_manifest,
        train=LAYOUT.training_set("{model}", "{dataset}", "{trainset}"),
        dev=LAYOUT.eval_set("{model}", "{dataset}", "dev"),
        code=library_sources("factgap.train"),
    output:
        early_stop=directory(f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/early_stop"),
        convergence=directory(f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/convergence"),
        history=LAYOUT.history("{model}", "{dataset}", "sft", "{trainset}"),
        summary=LAYOUT.summary("{model}", "{dataset}", "sft", "{trainset}"),
    log:
        LAYOUT.log("train_lora", "{model}", "{dataset}", "{trainset}"),
    benchmark:
        LAYOUT.benchmark("train_lora", "{model}", "{dataset}", "{trainset}")
    wildcard_constraints:
        dataset=QA_DATASET_PATTERN,
    # two one-thread runs side by side: 112 s for known + unknown here vs 147 s one after another on two
    # threads, with byte-identical adapters (this CPU's matmuls do not split the sums across threads)
    threads: 1
    params:
        run_dir=f"{LAYOUT.training_dir('{model}', '{dataset}', 'sft', '{trainset}')}/run",
        training=config["training"],
        learning_rate=learning_rate_of,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
    script:
        "../../scripts/train_lora.py"
