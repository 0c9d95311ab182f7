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
    return [LAYOUT.s3_file(wildcards.model, wildcards.people, wildcards.variant, f"verdicts-{wildcards.split}-{v}")
            for v in s3_design.verifiers_of(config, wildcards.people, variant, wildcards.split)]


def s3_generation_of_people(wildcards):
    return s3_design.generation_of(config, wildcards.people)


def s3_supported_verdicts(wildcards):
    """Training people's facts are asked back only when the primary verifier supports them."""
    if wildcards.split != s3_design.PAIR_SPLIT:
        return []
    verifier = s3_design.primary_verifier(config)
    return LAYOUT.s3_file(wildcards.model, wildcards.people, wildcards.variant, f"verdicts-{wildcards.split}-{verifier}")


def s3_pair_file(part):
    """Input function: the training or dev pairs a preference run trains on (RSO: its own sampling)."""

    def pairs_of(wildcards):
        sampler = s3_design.sampler_of(wildcards.method)
        return LAYOUT.preference_pairs(wildcards.model, wildcards.people, sampler, wildcards.pairset, part)

    return pairs_of


def s3_preference_run(name):
    return f"{LAYOUT.training_dir('{model}', '{people}', '{method}', '{pairset}')}/{name}"


def s3_responses_of_variant(wildcards):
    """The greedy answers of one variant whose tokens are ranked: test bios, and the topics if any."""
    files = {"in_domain": LAYOUT.s3_file(wildcards.model, wildcards.people, wildcards.variant, f"bios-{s3_design.EVAL_SPLIT}")}
    if S3_TOPICS is not None:
        files["out_of_domain"] = LAYOUT.s3_file(wildcards.model, S3_TOPICS, wildcards.variant, f"bios-{s3_design.EVAL_SPLIT}")
    return files
