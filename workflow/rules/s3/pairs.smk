rule build_preference_pairs:
    """Training and dev pairs of one pair set: general pairs of each training person's scored bios
    (all of them, or RSO's rejection-sampled ones), atomic pairs of the supported facts the model
    potentially knows, mixed per config; dev = a seeded share of the people."""
    input:
        bios=LAYOUT.s3_file("{model}", "{people}", naming.BASE, f"bios-{s3_design.PAIR_SPLIT}"),
        scores=LAYOUT.s3_file("{model}", "{people}", naming.BASE, f"scores-{s3_design.PAIR_SPLIT}"),
        facts=LAYOUT.s3_file("{model}", "{people}", naming.BASE, f"facts-{s3_design.PAIR_SPLIT}"),
        knowledge=LAYOUT.s3_file("{model}", "{people}", naming.BASE, f"knowledge-{s3_design.PAIR_SPLIT}"),
        people=LAYOUT.people("{people}"),
        code=library_sources("factgap.preference.pipeline"),
    output:
        train=LAYOUT.preference_pairs("{model}", "{people}", "{sampler}", "{pairset}", "train"),
        dev=LAYOUT.preference_pairs("{model}", "{people}", "{sampler}", "{pairset}", "dev"),
    log:
        LAYOUT.log("build_preference_pairs", "{model}", "{people}", "{sampler}", "{pairset}"),
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
        sampler="|".join(s3_design.SAMPLERS),
        pairset=naming.TRAINING_SET_PATTERN,
    localrule: True
    params:
        preference=s3_pair_spec(),
        verifier=s3_design.primary_verifier(config),
        seed=config["seed"],
    script:
        "../../scripts/build_preference_pairs.py"
