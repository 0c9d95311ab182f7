rule write_cot_rationales:
    """Few-shot exemplars from the Known training split, each with a rationale by the rationale model."""
    input:
        manifest=rationale_model_manifest,
        known=f"{RESULTS}/splits/{{model}}/{{dataset}}/train-known.parquet",
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/test.parquet",
        ood=f"{RESULTS}/splits/{{model}}/{{dataset}}/ood.parquet",
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
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/write_cot_rationales.py"


rule evaluate_model:
    """Exact match of one model variant (base, or a trained adapter) under one prompt setting,
    on the in-distribution test set (testset=test) or the held-out relations (testset=ood)."""
    input:
        manifest=model_manifest,
        adapter=adapter_of_variant,
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/{{testset}}.parquet",
        exemplars=f"{RESULTS}/exemplars/{{model}}/{{dataset}}.parquet",
        code=library_sources("factgap.evaluate"),
    output:
        f"{RESULTS}/eval/{{model}}/{{dataset}}/{{testset}}/{{variant}}/{{prompt}}.parquet",
    params:
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        cot_max_new_tokens=config["evaluation"]["cot_max_new_tokens"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
        backend=config["backend"],
    log:
        f"{RESULTS}/logs/evaluate_model/{{model}}/{{dataset}}/{{testset}}/{{variant}}/{{prompt}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_model/{{model}}/{{dataset}}/{{testset}}/{{variant}}/{{prompt}}.tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/evaluate_model.py"


rule measure_ood_similarity:
    """Cosine similarity of ID and OOD test questions in all-MiniLM-L6-v2 space (S2 Table 2)."""
    input:
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/test.parquet",
        ood=f"{RESULTS}/splits/{{model}}/{{dataset}}/ood.parquet",
        code=library_sources("factgap.similarity"),
    output:
        f"{RESULTS}/analysis/{{model}}/{{dataset}}/ood_similarity.json",
    params:
        embedding_model=config["analysis"]["embedding_model"],
    log:
        f"{RESULTS}/logs/measure_ood_similarity/{{model}}/{{dataset}}.log",
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/measure_ood_similarity.py"
