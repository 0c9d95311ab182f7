# S4 training data: HAR / INC / SELF items, their explanations (and evidence), the named training sets.


rule select_s4_sets:
    """HAR / INC / SELF of equal size from the confident probe answers, and dev items outside them."""
    input:
        probe=LAYOUT.mc_probe("{model}", "{dataset}"),
        code=library_sources("factgap.s4.pipeline"),
    output:
        sets=LAYOUT.s4_file("{model}", "{dataset}", "sets.parquet"),
        dev=LAYOUT.s4_file("{model}", "{dataset}", "dev.parquet"),
        summary=LAYOUT.s4_file("{model}", "{dataset}", "sets.json"),
    log:
        LAYOUT.log("select_s4_sets", "{model}", "{dataset}"),
    localrule: True
    params:
        threshold=config["s4"]["confidence_threshold"],
        max_size=config["s4"]["max_set_size"],
        dev_items=config["s4"]["dev_items"],
        seed=config["seed"],
    script:
        "../../scripts/select_s4_sets.py"


rule write_s4_texts:
    """Explanations of every training answer (SELF: the base model's own; gold: dataset or model) and
    the evidence of contextualized fine-tuning."""
    input:
        manifest=model_manifest,
        sets=LAYOUT.s4_file("{model}", "{dataset}", "sets.parquet"),
        mc_items=LAYOUT.mc_items("{dataset}"),
        code=library_sources("factgap.s4.pipeline"),
    output:
        LAYOUT.s4_file("{model}", "{dataset}", "texts.parquet"),
    log:
        LAYOUT.log("write_s4_texts", "{model}", "{dataset}"),
    benchmark:
        LAYOUT.benchmark("write_s4_texts", "{model}", "{dataset}")
    threads: 2
    params:
        s4=s4_keys(*S4_TEXT_KEYS),
        seed=config["seed"],
    script:
        "../../scripts/write_s4_texts.py"


rule build_s4_training_set:
    """One S4 training set (har, inc, self, self-ratio-<f>, inc-context) mixed with general instructions."""
    input:
        sets=LAYOUT.s4_file("{model}", "{dataset}", "sets.parquet"),
        texts=LAYOUT.s4_file("{model}", "{dataset}", "texts.parquet"),
        code=library_sources("factgap.s4.pipeline"),
        general=local_files_of("s4.general_data.path"),
    output:
        LAYOUT.s4_file("{model}", "{dataset}", "train-{trainset}.parquet"),
    log:
        LAYOUT.log("build_s4_training_set", "{model}", "{dataset}", "{trainset}"),
    localrule: True
    params:
        general=config["s4"]["general_data"],
        general_ratio=config["s4"]["general_ratio"],
        domain=config["s4"]["domain"],
        seed=config["seed"],
    script:
        "../../scripts/build_s4_training_set.py"
