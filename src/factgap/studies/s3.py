"""Study S3 (Yuan et al. 2024, APEFT). Part 1: FActScore of the model's bios with local judges, and
which of the facts it states it knows. Part 2: general and atomic preference pairs, LoRA preference
tuning (DPO, IPO, KTO, CPO, RSO), in- and out-of-domain evaluation, token distribution shift."""

from __future__ import annotations

from collections.abc import Mapping

from factgap.naming import BASE_VARIANT, Variant
from factgap.paths import ResultFile, ResultsLayout
from factgap.studies import ReportSpec, bootstrap_options, models

SPLITS = ("train", "dev", "test")
EVAL_SPLIT = "test"  # bios scored in part 1 and evaluated in part 2: the test people's greedy responses
PAIR_SPLIT = "train"  # the people whose sampled bios and asked-back facts make the preference pairs
SAMPLERS = ("facttune", "rso")  # all pairs of a prompt's scored responses, or RSO's rejection-sampled ones


def people_set(config: Mapping) -> str:
    return config["s3"]["people"]["name"]


def verifiers(config: Mapping) -> list[str]:
    return list(config["s3"]["verifiers"])


def primary_verifier(config: Mapping) -> str:
    """The verifier whose verdicts make the FActScore."""
    return verifiers(config)[0]


def judge_of(config: Mapping, model: str) -> str:
    """The model that extracts (llm) and verifies (llm) the facts of ``model``'s bios."""
    return config["s3"]["judge_model"] or model


def extractor_needs_judge(config: Mapping) -> bool:
    return config["s3"]["extractor"]["kind"] == "llm"


def verifiers_need_judge(config: Mapping) -> bool:
    return "llm" in verifiers(config)


def needs_judge(config: Mapping) -> bool:
    """Whether any S3 stage runs the judge model (which must then be prepared)."""
    return extractor_needs_judge(config) or verifiers_need_judge(config)


def methods(config: Mapping) -> list[str]:
    return list(config["s3"]["preference"]["methods"])


def pair_sets(config: Mapping) -> list[str]:
    return list(config["s3"]["preference"]["pair_sets"])


def sampler_of(method: str) -> str:
    return "rso" if method == "rso" else "facttune"


def tuned_variants(config: Mapping) -> list[Variant]:
    """Every (method, pair set) adapter at the evaluated checkpoint, in a stable order."""
    checkpoint = config["s3"]["preference"]["checkpoint"]
    return [Variant(m, p, checkpoint) for m in methods(config) for p in pair_sets(config)]


def evaluated_variants(config: Mapping) -> list[Variant]:
    return [BASE_VARIANT, *tuned_variants(config)]


def topics_set(config: Mapping) -> str | None:
    """The out-of-domain topic set's name, or None when it is switched off."""
    topics = config["s3"]["evaluation"]["ood_topics"]
    return None if topics["source"] == "none" else topics["name"]


def qa_dataset(config: Mapping) -> str | None:
    return config["s3"]["evaluation"]["qa"]["dataset"]


def ood_qa_sets(config: Mapping) -> list[dict]:
    """The configured FPQA / KUQA question sets (``s3.evaluation.ood_qa_sets``), in config order."""
    return list(config["s3"]["evaluation"]["ood_qa_sets"])


def ood_qa_set(config: Mapping, name: str) -> dict:
    return next(s for s in ood_qa_sets(config) if s["name"] == name)


def ood_qa_file_name(name: str) -> str:
    return f"ood-qa-{name}"


def verifiers_of(config: Mapping, people: str, variant: Variant, split: str) -> list[str]:
    """The base model's test bios go through every verifier (part 1 compares them); the training bios,
    topic answers and tuned variants' bios through the primary one only (their FActScore), so that a
    judge that is not the primary verifier is not run for every response and method."""
    every = variant.is_base and people == people_set(config) and split == EVAL_SPLIT
    return verifiers(config) if every else [primary_verifier(config)]


def generation_of(config: Mapping, people: str) -> dict:
    """Generation settings of a set: the bio prompt for people, the topic prompt for topics."""
    generation = dict(config["s3"]["generation"])
    if people == topics_set(config):
        generation["prompt"] = config["s3"]["evaluation"]["ood_topics"]["prompt"]
    return generation


def check_config(config: Mapping) -> None:
    """S3 rules the schema cannot express (named keys)."""
    from factgap.configuration import config_error

    s3 = config["s3"]
    judge = s3["judge_model"]
    if judge is not None and judge not in {**config["models"], **config["helper_models"]}:
        raise config_error("s3.judge_model", f"{judge!r} is not a name in models or helper_models")
    fractions = s3["people"]["split_fractions"]
    if fractions.get("dev", 0) + fractions.get("test", 0) >= 1:
        raise config_error("s3.people.split_fractions", "dev + test must leave room for train")
    if s3["people"]["source"] == "factscore":
        for key in ("entities_path", "knowledge_db"):
            if not s3["people"][key]:
                raise config_error(f"s3.people.{key}", "required when s3.people.source is factscore")
    if topics_set(config) == people_set(config):
        raise config_error("s3.evaluation.ood_topics.name", f"{topics_set(config)!r} is also the people set's name")
    if s3["evaluation"]["ood_topics"]["source"] == "fava" and not s3["evaluation"]["ood_topics"]["path"]:
        raise config_error("s3.evaluation.ood_topics.path", "required when s3.evaluation.ood_topics.source is fava")
    seen: set[str] = set()
    for i, qa_set in enumerate(ood_qa_sets(config)):
        key = f"s3.evaluation.ood_qa_sets[{i}].name"
        if qa_set["name"] in seen:
            raise config_error(key, f"{qa_set['name']!r} names two question sets")
        if qa_set["name"] == "mmlu":  # its metric would be MMLU's
            raise config_error(key, "'mmlu' is taken by the MMLU evaluation")
        seen.add(qa_set["name"])
    qa = qa_dataset(config)
    if qa is not None and qa not in config["datasets"]:
        raise config_error("s3.evaluation.qa.dataset", f"{qa!r} is not a name in datasets")
    atomic = s3["preference"]["atomic"]
    if atomic["r_low"] >= atomic["r_high"]:
        raise config_error("s3.preference.atomic.r_low", "must be below s3.preference.atomic.r_high")


def check_ood_files(config: Mapping) -> None:
    """Load every configured FAVA / FPQA / KUQA file: a bad one fails naming its file, row and field.
    Run before any job (not in dry-runs: the files may exist on the cluster only)."""
    from factgap.data.apeft import load_fava, load_ood_qa

    topics = config["s3"]["evaluation"]["ood_topics"]
    if topics["source"] == "fava":
        load_fava(topics["path"], topics["fields"])
    for qa_set in ood_qa_sets(config):
        load_ood_qa(qa_set["path"], qa_set["format"], qa_set["fields"])


def reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    ms, people = models(config), people_set(config)
    base = BASE_VARIANT.path
    primary = primary_verifier(config)
    scores = layout.s3_files(ms, people, base, f"scores-{EVAL_SPLIT}", variant=BASE_VARIANT.label)
    knowledge = layout.s3_files(ms, people, base, f"knowledge-{EVAL_SPLIT}")
    verdicts = [
        f
        for v in verifiers(config)
        for f in layout.s3_files(ms, people, base, f"verdicts-{EVAL_SPLIT}-{v}", verifier=v)
    ]
    facts = layout.s3_files(ms, people, base, f"facts-{EVAL_SPLIT}")
    claims = [ResultFile(layout.claim_results(m, people), {"model": m}) for m in ms]

    specs = [
        ReportSpec(
            "s3_factscore_tiers",
            "S3: FActScore of the model's bios (greedy, test people) per popularity tier, with and without "
            "the length penalty.",
            {"scores": scores},
            {"verifier": primary, **bootstrap_options(config)},
        ),
        ReportSpec(
            "s3_fact_knowledge",
            "S3: shares of known / potentially known / unknown facts among supported and unsupported facts.",
            {
                "facts": facts,
                "knowledge": knowledge,
                "verdicts": [f for f in verdicts if f.meta["verifier"] == primary],
            },
            {},
        ),
        ReportSpec(
            "s3_verifiers",
            "S3: each verifier's accuracy and AUC on the labelled claim set, and its agreement with the "
            "primary verifier on the bios' facts.",
            {"claims": claims, "verdicts": verdicts},
            {"primary": primary},
        ),
    ]
    if tuned_variants(config):
        specs += preference_reports(config, layout)
    return specs


def preference_reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    """Part 2's tables: every evaluated variant on every test, the gaps general tuning opens and atomic
    pairs close, and the token distribution shift."""
    ms, people, topics, qa = models(config), people_set(config), topics_set(config), qa_dataset(config)
    name = f"scores-{EVAL_SPLIT}"
    variants = evaluated_variants(config)
    scores = [f for v in variants for f in layout.s3_files(ms, people, v.path, name, variant=v.label, test="bios")]
    if topics is not None:
        scores += [
            f for v in variants for f in layout.s3_files(ms, topics, v.path, name, variant=v.label, test="topics")
        ]
    files: dict[str, list[ResultFile]] = {"scores": scores}
    if qa is not None:
        prompt = config["s3"]["evaluation"]["qa"]["prompt"]
        files["qa"] = [
            ResultFile(layout.prediction(m, qa, "test", v.path, prompt), {"model": m, "dataset": qa})
            for m in ms
            for v in variants
        ]
    if config["s3"]["evaluation"]["multiple_choice"]:
        files["mc"] = [f for v in variants for f in layout.s3_files(ms, people, v.path, "mmlu")]
    if ood_qa_sets(config):
        files["ood_qa"] = [
            f
            for q in ood_qa_sets(config)
            for v in variants
            for f in layout.s3_files(ms, people, v.path, ood_qa_file_name(q["name"]), variant=v.label, qa_set=q["name"])
        ]
    options = {"verifier": primary_verifier(config), **bootstrap_options(config)}
    shifts = [
        ResultFile(layout.token_shift(m, people, v.path), {"model": m, "variant": v.label})
        for m in ms
        for v in tuned_variants(config)
    ]
    histories = [
        ResultFile(
            layout.history(m, people, v.method, v.training_set),
            {"model": m, "method": v.method, "pair_set": v.training_set},
        )
        for m in ms
        for v in tuned_variants(config)
    ]
    return [
        ReportSpec(
            "s3_preference_effects",
            "S3 main table analogue: base and every method x pair set on in-domain FActScore (test people's "
            "bios) and each out-of-domain test, with bootstrap CIs and the paired change vs the base model.",
            {**files, "histories": histories},
            options,
        ),
        ReportSpec(
            "s3_alignment_gaps",
            "S3: per method, the change general-only tuning makes on every test (the under-alignment drop "
            "out of domain) and what adding atomic pairs changes on top of it, paired bootstrap CIs.",
            files,
            options,
        ),
        ReportSpec(
            "s3_token_shift",
            "S3: token distribution shift of each tuned variant's greedy answers under the base model, in "
            "domain (bios) vs out of domain (topics): unshifted / marginal / shifted token shares.",
            {"shifts": shifts},
            {"marginal_max": config["s3"]["evaluation"]["token_shift"]["marginal_max"], **bootstrap_options(config)},
        ),
    ]
