rule train_lora:
    """LoRA SFT with a checkpoint and dev exact match per epoch; exports early-stop and
    convergence adapters. Rerunning a killed job resumes from its last checkpoint (kept in run/)."""
    input:
        manifest=model_manifest,
        train=f"{RESULTS}/splits/{{model}}/{{dataset}}/train-{{trainset}}.parquet",
        dev=f"{RESULTS}/splits/{{model}}/{{dataset}}/dev.parquet",
        code=library_sources("factgap.train"),
    output:
        early_stop=directory(f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/early_stop"),
        convergence=directory(f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/convergence"),
        history=f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/history.parquet",
        summary=f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/summary.parquet",
    params:
        run_dir=f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/run",
        training=config["training"],
        learning_rate=learning_rate_of,
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/train_lora/{{model}}/{{dataset}}/{{trainset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_lora/{{model}}/{{dataset}}/{{trainset}}.tsv"
    threads: 2
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_lora.py"
