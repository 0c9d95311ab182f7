# Input functions and values of the S4 rules.


def s4_prompt_domain(wildcards):
    """The domain name of the probe header; MMLU items use their own subject names (None)."""
    return None if wildcards.mcset == s4_design.MMLU else config["s4"]["domain"]


def s4_demo_pool(wildcards):
    """Probe demos from the subject's dev items (MMLU), or from the whole dev pool of a dataset that keeps
    its released splits (MedMCQA: Ren et al.'s 10 development questions span many subjects)."""
    released = mc_loader(config["s4"]["dataset"]["loader"]).released_splits
    return "dataset" if wildcards.mcset != s4_design.MMLU and released else "subject"


def s4_training_config():
    """The training section with S4's overrides (null = keep the training section's value)."""
    overrides = {k: v for k, v in config["s4"]["training"].items() if v is not None and k != "learning_rate"}
    return {**config["training"], **overrides}


def s4_learning_rate_of(wildcards):
    return config["s4"]["training"]["learning_rate"] or learning_rate_of(wildcards)


def s4_subject_caps():
    """Test questions kept per MMLU subject: ID subjects and OOD subjects have their own caps."""
    mmlu = config["s4"]["mmlu"]
    ood_cap = mmlu["max_ood_per_subject"] or mmlu["max_per_subject"]
    caps = {s: mmlu["max_per_subject"] for s in s4_design.id_subjects(config)}
    return caps | {s: ood_cap for s in s4_design.ood_subjects(config)}
