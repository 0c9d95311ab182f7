rule write_cot_rationales:
    """Few-shot exemplars from the Known training split, each with a rationale by the rationale model."""
    input:
        manifest=rationale_model_manifest,
        known=f"{RESULTS}/splits/{{model}}/{{dataset}}/train-known.parquet",
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/test.parquet",
        code=library_sources("factgap.evaluate"),
    output:
        f"{RESULTS}/exemplars/{{model}}/{{dataset}}.parquet",
    params:
        n_shots=config["evaluation"]["n_shots"],
        max_new_tokens=config["evaluation"]["rationale_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    log:
        f"{RESULTS}/logs/write_cot_rationales/{{model}}/{{dataset}}.log",
    threads: 2
    script:
        "../scripts/write_cot_rationales.py"


rule evaluate_model:
    """Exact match of one model variant (base, or a trained adapter) under one prompt setting."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/test.parquet",
        exemplars=f"{RESULTS}/exemplars/{{model}}/{{dataset}}.parquet",
        code=library_sources("factgap.evaluate"),
    output:
        f"{RESULTS}/eval/{{model}}/{{dataset}}/{{variant}}/{{prompt}}.parquet",
    params:
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        cot_max_new_tokens=config["evaluation"]["cot_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    log:
        f"{RESULTS}/logs/evaluate_model/{{model}}/{{dataset}}/{{variant}}/{{prompt}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_model/{{model}}/{{dataset}}/{{variant}}/{{prompt}}.tsv"
    threads: 1
    script:
        "../scripts/evaluate_model.py"
