rule probe_knowledge:
    """SliCK probing of the base model on the train and test questions (raw answers kept)."""
    input:
        manifest=model_manifest,
        questions=f"{RESULTS}/data/{{dataset}}/questions.parquet",
        code=library_sources("factgap.probe"),
    output:
        f"{RESULTS}/probe/{{model}}/{{dataset}}.parquet",
    params:
        settings=config["probe"],
        seed=config["seed"],
        backend=config["backend"],
        ood_relations=ood_relations_of,
    log:
        f"{RESULTS}/logs/probe_knowledge/{{model}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_knowledge/{{model}}/{{dataset}}.tsv"
    threads: 2
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/probe_knowledge.py"
