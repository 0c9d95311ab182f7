rule build_training_set:
    """One named QA training set (known, unknown, mix-unknown-X, only-Category), balanced per relation."""
    input:
        probe=LAYOUT.probe("{model}", "{dataset}"),
        code=library_sources("factgap.splits"),
    output:
        LAYOUT.training_set("{model}", "{dataset}", "{trainset}"),
    log:
        LAYOUT.log("build_training_set", "{model}", "{dataset}", "{trainset}"),
    localrule: True
    params:
        known=config["splits"]["known_categories"],
        unknown=config["splits"]["unknown_categories"],
        cap=config["splits"]["train_per_relation"],
        ood_relations=ood_relations_of,
        seed=config["seed"],
    script:
        "../../scripts/build_training_set.py"


rule build_eval_sets:
    """Dev set (early stopping), ID test set and OOD test set (held-out relations; empty when the
    dataset has none), test items with the base model's knowledge categories."""
    input:
        questions=LAYOUT.questions("{dataset}"),
        probe=LAYOUT.probe("{model}", "{dataset}"),
        code=library_sources("factgap.splits"),
    output:
        dev=LAYOUT.eval_set("{model}", "{dataset}", "dev"),
        test=LAYOUT.eval_set("{model}", "{dataset}", "test"),
        ood=LAYOUT.eval_set("{model}", "{dataset}", "ood"),
    log:
        LAYOUT.log("build_eval_sets", "{model}", "{dataset}"),
    localrule: True
    params:
        dev_cap=config["splits"]["dev_per_relation"],
        ood_relations=ood_relations_of,
        seed=config["seed"],
    script:
        "../../scripts/build_eval_sets.py"
