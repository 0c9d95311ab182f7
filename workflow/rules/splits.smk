rule build_training_set:
    """One named training set (known, unknown, mix-unknown-X, only-Category), balanced per relation."""
    input:
        probe=f"{RESULTS}/probe/{{model}}/{{dataset}}.parquet",
        code=library_sources("factgap.splits"),
    output:
        f"{RESULTS}/splits/{{model}}/{{dataset}}/train-{{trainset}}.parquet",
    params:
        known=config["splits"]["known_categories"],
        unknown=config["splits"]["unknown_categories"],
        cap=config["splits"]["train_per_relation"],
        ood_relations=ood_relations_of,
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/build_training_set/{{model}}/{{dataset}}/{{trainset}}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/build_training_set.py"


rule build_eval_sets:
    """Dev set (early stopping), ID test set and OOD test set (held-out relations; empty when the
    dataset has none), test items with the base model's knowledge categories."""
    input:
        questions=f"{RESULTS}/data/{{dataset}}/questions.parquet",
        probe=f"{RESULTS}/probe/{{model}}/{{dataset}}.parquet",
        code=library_sources("factgap.splits"),
    output:
        dev=f"{RESULTS}/splits/{{model}}/{{dataset}}/dev.parquet",
        test=f"{RESULTS}/splits/{{model}}/{{dataset}}/test.parquet",
        ood=f"{RESULTS}/splits/{{model}}/{{dataset}}/ood.parquet",
    params:
        dev_cap=config["splits"]["dev_per_relation"],
        ood_relations=ood_relations_of,
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/build_eval_sets/{{model}}/{{dataset}}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/build_eval_sets.py"
