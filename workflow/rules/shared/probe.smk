rule probe_knowledge:
    """SliCK probing of the base model on the train and test questions (raw answers kept)."""
    input:
        manifest=model_manifest,
        questions=LAYOUT.questions("{dataset}"),
        code=library_sources("factgap.probe"),
    output:
        LAYOUT.probe("{model}", "{dataset}"),
    log:
        LAYOUT.log("probe_knowledge", "{model}", "{dataset}"),
    benchmark:
        LAYOUT.benchmark("probe_knowledge", "{model}", "{dataset}")
    threads: 2
    params:
        probe=config["probe"],
        seed=config["seed"],
        backend=config["backend"],
        ood_relations=ood_relations_of,
    script:
        "../../scripts/probe_knowledge.py"
