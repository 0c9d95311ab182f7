# Input functions and values of the S3 rules.
S3_PEOPLE = s3_design.people_set(config)
S3_TOPICS = s3_design.topics_set(config)
# the configured FPQA / KUQA sets ("(?!)": none, so no file matches)
S3_QA_SET_PATTERN = "|".join(re.escape(q["name"]) for q in s3_design.ood_qa_sets(config)) or "(?!)"


def s3_qa_set_spec(wildcards):
    return s3_design.ood_qa_set(config, wildcards.qaset)


def s3_judge_name(wildcards):
    return s3_design.judge_of(config, wildcards.model)


def s3_extractor_judge_manifest(wildcards):
    """The judge's manifest when the llm extractor runs it (none for the rule extractor)."""
    return LAYOUT.model_manifest(s3_judge_name(wildcards)) if s3_design.extractor_needs_judge(config) else []


def s3_verifiers_judge_manifest(wildcards):
    """The judge's manifest when one of the measured verifiers is the llm judge."""
    return LAYOUT.model_manifest(s3_judge_name(wildcards)) if s3_design.verifiers_need_judge(config) else []


def s3_judge_manifest_of_verifier(wildcards):
    return LAYOUT.model_manifest(s3_judge_name(wildcards)) if wildcards.verifier == "llm" else []


def threads_of_extractor(wildcards):
    """2 threads when the llm extractor runs the judge model; the rule extractor is pure Python, and its
    jobs run two side by side."""
    return 2 if s3_design.extractor_needs_judge(config) else 1


def threads_of_verifier(wildcards):
    """2 threads for the llm judge; the rules verifier (BM25 + rules, pure Python) runs two side by side."""
    return 2 if wildcards.verifier == "llm" else 1


def s3_calibration_of_verifier(wildcards):
    """The llm verifier's threshold comes from the claim set's dev part (the bio people's claims, also
    for the topics, which have no slots to make claims of)."""
    if wildcards.verifier != "llm":
        return []
    return LAYOUT.verifier_calibration(wildcards.model, S3_PEOPLE)


def s3_cache(purpose):
    """Input function: the judge's disk cache for one purpose (a param, not an output)."""

    def cache_of(wildcards):
        return LAYOUT.llm_cache(s3_judge_name(wildcards), purpose)

    return cache_of


def s3_verdicts_of_split(wildcards):
    variant = naming.parse_variant_path(wildcards.variant)
    return [
        LAYOUT.s3_file(wildcards.model, wildcards.people, wildcards.variant, f"verdicts-{wildcards.split}-{v}")
        for v in s3_design.verifiers_of(config, wildcards.people, variant, wildcards.split)
    ]


def s3_generation_of_people(wildcards):
    return s3_design.generation_of(config, wildcards.people)


def s3_supported_verdicts(wildcards):
    """Training people's facts are asked back only when the primary verifier supports them."""
    if wildcards.split != s3_design.PAIR_SPLIT:
        return []
    verifier = s3_design.primary_verifier(config)
    return LAYOUT.s3_file(
        wildcards.model, wildcards.people, wildcards.variant, f"verdicts-{wildcards.split}-{verifier}"
    )


def s3_pair_file(part):
    """Input function: the training or dev pairs a preference run trains on (RSO: its own sampling)."""

    def pairs_of(wildcards):
        sampler = s3_design.sampler_of(wildcards.method)
        return LAYOUT.preference_pairs(wildcards.model, wildcards.people, sampler, wildcards.pairset, part)

    return pairs_of


def s3_preference_run(name):
    return f"{LAYOUT.training_dir('{model}', '{people}', '{method}', '{pairset}')}/{name}"


# ---- evaluate_tuned_variant: every test of one tuned variant in one job ----
S3_QA_DATASET = s3_design.qa_dataset(config)
S3_TUNED_VARIANT_PATTERN = "|".join(re.escape(v.path) for v in s3_design.tuned_variants(config)) or "(?!)"


def s3_tuned_variant_outputs():
    """The files evaluate_tuned_variant writes (wildcards model and variant), by the tests configured."""
    files = {
        "bios": LAYOUT.s3_file("{model}", S3_PEOPLE, "{variant}", f"bios-{s3_design.EVAL_SPLIT}"),
        "token_shift": LAYOUT.token_shift("{model}", S3_PEOPLE, "{variant}"),
    }
    if S3_TOPICS is not None:
        files["topics"] = LAYOUT.s3_file("{model}", S3_TOPICS, "{variant}", f"bios-{s3_design.EVAL_SPLIT}")
    if S3_QA_DATASET is not None:
        prompt = config["s3"]["evaluation"]["qa"]["prompt"]
        files["qa"] = LAYOUT.prediction("{model}", S3_QA_DATASET, "test", "{variant}", prompt)
    if config["s3"]["evaluation"]["multiple_choice"]:
        files["mmlu"] = LAYOUT.s3_file("{model}", S3_PEOPLE, "{variant}", "mmlu")
    for qa_set in s3_design.ood_qa_sets(config):
        files[f"ood_qa_{qa_set['name']}"] = LAYOUT.s3_file(
            "{model}", S3_PEOPLE, "{variant}", s3_design.ood_qa_file_name(qa_set["name"])
        )
    return files


def s3_tuned_variant_data():
    """What the tests of a tuned variant read, besides the model: people, topics, QA set, MMLU items."""
    files = {"people": LAYOUT.people(S3_PEOPLE)}
    if S3_TOPICS is not None:
        files["topics"] = LAYOUT.people(S3_TOPICS)
    if S3_QA_DATASET is not None:
        files["qa_test"] = LAYOUT.eval_set("{model}", S3_QA_DATASET, "test")
        files["qa_exemplars"] = LAYOUT.exemplars("{model}", S3_QA_DATASET)
    if config["s3"]["evaluation"]["multiple_choice"]:
        files["mmlu"] = LAYOUT.mc_items(s4_design.MMLU)
    return files


def s3_tuned_variant_settings():
    """Every test's settings (params of evaluate_tuned_variant): one entry per configured test."""
    evaluation = config["evaluation"]
    return {
        "bios": s3_design.generation_of(config, S3_PEOPLE),
        "topics": s3_design.generation_of(config, S3_TOPICS) if S3_TOPICS is not None else None,
        "qa": {
            "mode": config["s3"]["evaluation"]["qa"]["prompt"],
            **{k: evaluation[k] for k in ("max_new_tokens", "cot_max_new_tokens", "batch_size")},
        },
        "ood_qa": {
            "sets": s3_design.ood_qa_sets(config),
            "generation": {k: config["s3"]["generation"][k] for k in ("chat_template", "batch_size")},
        },
        "mmlu": {
            "id_subjects": s4_design.id_subjects(config),
            "ood_subjects": s4_design.ood_subjects(config),
            **{k: config["s4"][k] for k in ("domain", "scoring", "batch_size")},
        },
        "token_shift": {
            "chat_template": config["s3"]["generation"]["chat_template"],
            **config["s3"]["evaluation"]["token_shift"],
        },
    }
