"""Study S3 (Yuan et al. 2024, APEFT), part 1: FActScore of the model's bios with local judges, and
which of the facts it states it knows."""

from __future__ import annotations

from collections.abc import Mapping

from factgap.naming import BASE_VARIANT
from factgap.paths import ResultFile, ResultsLayout
from factgap.studies import ReportSpec, bootstrap_options, models

SPLITS = ("train", "dev", "test")
EVAL_SPLIT = "test"  # bios scored and probed in part 1: the test people's greedy responses


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


def reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    ms, people = models(config), people_set(config)
    base = BASE_VARIANT.path
    primary = primary_verifier(config)
    scores = layout.s3_files(ms, people, base, f"scores-{EVAL_SPLIT}", variant=BASE_VARIANT.label)
    knowledge = layout.s3_files(ms, people, base, f"knowledge-{EVAL_SPLIT}")
    verdicts = [f for v in verifiers(config)
                for f in layout.s3_files(ms, people, base, f"verdicts-{EVAL_SPLIT}-{v}", verifier=v)]
    facts = layout.s3_files(ms, people, base, f"facts-{EVAL_SPLIT}")
    claims = [ResultFile(layout.claim_results(m, people), {"model": m}) for m in ms]

    return [
        ReportSpec("s3_factscore_tiers",
                   "S3: FActScore of the model's bios (greedy, test people) per popularity tier, with and without "
                   "the length penalty.",
                   {"scores": scores}, {"verifier": primary, **bootstrap_options(config)}),
        ReportSpec("s3_fact_knowledge",
                   "S3: shares of known / potentially known / unknown facts among supported and unsupported facts.",
                   {"facts": facts, "knowledge": knowledge,
                    "verdicts": [f for f in verdicts if f.meta["verifier"] == primary]},
                   {}),
        ReportSpec("s3_verifiers",
                   "S3: each verifier's accuracy and AUC on the labelled claim set, and its agreement with the "
                   "primary verifier on the bios' facts.",
                   {"claims": claims, "verdicts": verdicts},
                   {"primary": primary}),
    ]
