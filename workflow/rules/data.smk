rule prepare_dataset:
    """Raw dataset (any configured loader) -> the normalised QA table with train/dev/test."""
    input:
        code=library_sources("factgap.data.prepare"),
    output:
        f"{RESULTS}/data/{{dataset}}/questions.parquet",
    params:
        spec=dataset_params,
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/prepare_dataset/{{dataset}}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/prepare_dataset.py"
