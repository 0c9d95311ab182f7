# S4 data: the domain's multiple-choice set and the MMLU tests (ID = the domain's subjects, OOD = the rest).


rule prepare_mc_domain:
    """The domain's multiple-choice questions: demo pool (dev), training pool (train), HOMO test (test)."""
    input:
        code=library_sources("factgap.s4.pipeline", "factgap.hub"),
        hub=hub_records_of("s4.dataset"),
        local=local_files_of("s4.dataset.path"),
    output:
        LAYOUT.mc_items(S4_DATASET),
    log:
        LAYOUT.log("prepare_mc_domain", S4_DATASET),
    localrule: True
    params:
        spec={**config["s4"]["dataset"], "demo_seed": config["s4"]["demo_seed"]},
        seed=config["seed"],
    script:
        "../../scripts/prepare_mc_items.py"


rule prepare_mmlu_tests:
    """MMLU questions of the ID and OOD subjects (a few per subject held back as demos of the base probe)."""
    input:
        code=library_sources("factgap.s4.pipeline", "factgap.hub"),
        hub=hub_records_of("s4.mmlu"),
        local=local_files_of("s4.mmlu.path"),
    output:
        LAYOUT.mc_items(s4_design.MMLU),
    log:
        LAYOUT.log("prepare_mmlu_tests", s4_design.MMLU),
    localrule: True
    params:
        spec={**config["s4"]["mmlu"], "n_dev": config["s4"]["n_demos"], "demo_seed": config["s4"]["demo_seed"]},
        subjects=s4_design.id_subjects(config) + s4_design.ood_subjects(config),
        max_per_subject=s4_subject_caps(),
        tests_only=True,
        seed=config["seed"],
    script:
        "../../scripts/prepare_mc_items.py"
