"""S4 test splits: which MMLU subjects are in-domain (ID) for each training domain.

From seed 004 (Ren et al. 2024), Table 11, copied as MMLU spells the subjects; every name was
readable in the seed. The out-of-domain (OOD) test is every other MMLU subject (Table 11's
caption). The public code derives the same lists from MMLU's subcategories (``eval/analyse/
metric.py``: Jurisprudence = politics, culture, economics, geography, psychology and law), which
agrees with the table. The paper's Medicine domain is MedMCQA (its code calls it ``medmcqa``).
"""

from __future__ import annotations

MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)

# Table 11, in the table's order.
DOMAIN_SUBJECTS: dict[str, tuple[str, ...]] = {
    "engineering": ("electrical_engineering",),
    "history": ("high_school_european_history", "high_school_us_history", "high_school_world_history", "prehistory"),
    "jurisprudence": (
        "econometrics",
        "high_school_geography",
        "high_school_government_and_politics",
        "high_school_macroeconomics",
        "high_school_microeconomics",
        "high_school_psychology",
        "human_sexuality",
        "international_law",
        "jurisprudence",
        "professional_law",
        "sociology",
        "public_relations",
        "professional_psychology",
        "security_studies",
        "us_foreign_policy",
    ),
    "medicine": (
        "anatomy",
        "clinical_knowledge",
        "college_medicine",
        "human_aging",
        "medical_genetics",
        "nutrition",
        "professional_medicine",
        "virology",
    ),
}


def in_domain_subjects(domain: str) -> tuple[str, ...]:
    """MMLU subjects of the ID test of ``domain`` (Table 11)."""
    if domain not in DOMAIN_SUBJECTS:
        raise KeyError(f"no MMLU split for domain {domain!r}; known: {sorted(DOMAIN_SUBJECTS)}")
    return DOMAIN_SUBJECTS[domain]


def out_of_domain_subjects(domain: str) -> tuple[str, ...]:
    """Every other MMLU subject (the OOD test of ``domain``)."""
    inside = set(in_domain_subjects(domain))
    return tuple(s for s in MMLU_SUBJECTS if s not in inside)
