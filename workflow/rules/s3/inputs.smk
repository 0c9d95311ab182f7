# Input functions and values of the S3 rules.
S3_PEOPLE = s3_design.people_set(config)


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
    """The llm verifier's threshold comes from the claim set's dev part."""
    if wildcards.verifier != "llm":
        return []
    return LAYOUT.verifier_calibration(wildcards.model, wildcards.people)


def s3_cache(purpose):
    """Input function: the judge's disk cache for one purpose (a param, not an output)."""

    def cache_of(wildcards):
        return LAYOUT.llm_cache(s3_judge_name(wildcards), purpose)

    return cache_of


def s3_verdicts_of_split(wildcards):
    return [LAYOUT.s3_file(wildcards.model, wildcards.people, wildcards.variant, f"verdicts-{wildcards.split}-{v}")
            for v in s3_design.verifiers(config)]
