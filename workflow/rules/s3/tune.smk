rule train_preference:
    """LoRA preference tuning of the model on one pair set with one method (TRL; reference = the
    adapter-disabled network), a checkpoint and dev reward accuracy per epoch; exports the early-stop
    and convergence adapters. Rerunning a killed job resumes from its last checkpoint (kept in run/)."""
    input:
        manifest=model_manifest,
        pairs=s3_pair_file("train"),
        dev_pairs=s3_pair_file("dev"),
        code=library_sources("factgap.preference.pipeline"),
    output:
        early_stop=directory(s3_preference_run("early_stop")),
        convergence=directory(s3_preference_run("convergence")),
        history=LAYOUT.history("{model}", "{people}", "{method}", "{pairset}"),
        dev_scores=LAYOUT.summary("{model}", "{people}", "{method}", "{pairset}"),
    log:
        LAYOUT.log("train_preference", "{model}", "{people}", "{method}", "{pairset}"),
    benchmark:
        LAYOUT.benchmark("train_preference", "{model}", "{people}", "{method}", "{pairset}")
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        method="|".join(naming.PREFERENCE_METHODS),
        pairset=naming.TRAINING_SET_PATTERN,
    # before any tuned variant's evaluation: a run left for the end leaves its evaluation (~2 min on a
    # CPU) to run alone on one core after everything else
    priority: 1
    threads: 1  # two runs side by side, as evaluate_tuned_variant
    params:
        run_dir=s3_preference_run("run"),
        s3=preference_settings_of,
        seed=config["seed"],
    script:
        "../../scripts/train_preference.py"
