rule probe_mc:
    """The base model's k-shot probe of a multiple-choice set (option distributions, confidence)."""
    input:
        manifest=model_manifest,
        mc_items=LAYOUT.mc_items("{mcset}"),
        code=library_sources("factgap.s4.pipeline"),
    output:
        LAYOUT.mc_probe("{model}", "{mcset}"),
    log:
        LAYOUT.log("probe_mc", "{model}", "{mcset}"),
    benchmark:
        LAYOUT.benchmark("probe_mc", "{model}", "{mcset}")
    threads: 2
    params:
        domain=s4_prompt_domain,
        scoring=config["s4"]["scoring"],
        n_demos=config["s4"]["n_demos"],
        demo_pool=s4_demo_pool,
        demo_seed=config["s4"]["demo_seed"],
        threshold=config["s4"]["confidence_threshold"],
        batch_size=config["s4"]["batch_size"],
        seed=config["seed"],
    script:
        "../../scripts/probe_mc.py"
