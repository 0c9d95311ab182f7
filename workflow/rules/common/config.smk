# Config validation, the results layout and wildcard constraints. Kept free of heavy imports:
# Snakemake re-reads this file for every job. The factgap modules imported here need only the
# standard library.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

PACKAGE_DIR = Path(workflow.basedir) / "src" / "factgap"
sys.path.insert(0, str(PACKAGE_DIR.parent))
# Jobs import the library from this checkout, also on cluster nodes: put src/ first on their PYTHONPATH (jobs inherit the environment).
os.environ.update(
    PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent), *filter(None, os.getenv("PYTHONPATH", "").split(os.pathsep))])
)

import dataclasses
import re

from factgap import code_inputs, hub, naming, seed_design
from factgap.backends import check_backend_config, nvidia_gpu_visible, vllm_installed
from factgap.data.loaders import mc_loader
from factgap.configuration import check_semantics, local_paths_of, science_config
from factgap.runtime import deterministic_environment
from factgap.paths import ResultsLayout
from factgap.studies import datasets as study_datasets
from factgap.studies import s1 as s1_design, s2 as s2_design, s3 as s3_design, s4 as s4_design

validate(config, "../../../config/schema.yaml")
check_semantics(config)
deterministic_environment(config["deterministic"])
# backend: vllm needs vLLM here; and a GPU here, unless a cluster executor gives the jobs their own
check_backend_config(
    config["backend"],
    vllm_installed(),
    nvidia_gpu_visible(),
    jobs_get_gpus=workflow.remote_exec or not workflow.local_exec,
)
s3_design.check_config(config)
s4_design.check_config(config)

MODELS_DIR = config["models_dir"]
LAYOUT = ResultsLayout(config["results_dir"].rstrip("/"), MODELS_DIR)
MODELS = sorted(config["models"])
DATASETS = sorted(config["datasets"])
ALL_MODEL_SPECS = {**config["helper_models"], **config["models"]}
S4_DATASET = s4_design.dataset(config)
SCIENCE = science_config(config)
HUB_ITEMS_BY_KEY = hub.hub_items_by_key(config)
HUB_ITEMS = hub.hub_items(config)
HUB_ITEMS_BY_NAME = {item.name: item for item in HUB_ITEMS}
if S4_DATASET in DATASETS:
    raise ValueError(f"config key 's4.dataset.name': {S4_DATASET!r} is also a QA dataset in datasets")
# training rules of QA datasets and of the S4 set write the same layout: each claims its own names
QA_DATASET_PATTERN = "|".join(re.escape(d) for d in DATASETS) or "(?!)"  # "(?!)": no QA dataset


wildcard_constraints:
    model=naming.USER_NAME_PATTERN,
    rmodel=naming.USER_NAME_PATTERN,
    dataset=naming.USER_NAME_PATTERN,
    trainset=naming.TRAINING_SET_PATTERN,
    testset="|".join(naming.QA_TESTSETS),
    variant=naming.VARIANT_PATTERN,
    prompt=naming.PROMPT_PATTERN,
    mcset=f"{re.escape(S4_DATASET)}|{s4_design.MMLU}",
    people="|".join(re.escape(p) for p in filter(None, (s3_design.people_set(config), s3_design.topics_set(config)))),
    split="|".join(s3_design.SPLITS),
    hub_item="|".join(re.escape(name) for name in HUB_ITEMS_BY_NAME) or "(?!)",


def library_sources(*modules):
    """Library files the rule's script imports (transitively): an edited function reruns its jobs."""
    return code_inputs.library_sources(PACKAGE_DIR, *modules)


onstart:
    # local datasets (EntityQuestions, PopQA, MedMCQA, MMLU files) present, before any job reads one
    from factgap.configuration import check_local_data_paths

    check_local_data_paths(config)
    # local model files (GGUF, model folders) present and not empty, before any job loads one
    from factgap.models import check_model_files

    check_model_files(config["models"])
    check_model_files(config["helper_models"], section="helper_models")
    # A bad people file or knowledge source (S3, FActScore's layout) fails here, naming file and row:
    # after the DAG is built, before any job runs; not in dry-runs (the files may live on the cluster only).
    if config["s3"]["people"]["source"] == "factscore":
        from factgap.factscore.pipeline import check_people_source

        check_people_source(config["s3"]["people"])
    # APEFT's out-of-domain files (FAVA, FPQA, KUQA) likewise, before a model loads them
    s3_design.check_ood_files(config)
    # S4's general instruction file (alpaca-gpt4 in the paper config), before the probe and text jobs run
    if "s4" in config["studies"] and config["s4"]["general_data"]["source"] == "jsonl":
        from factgap.s4.pipeline import check_general_instructions_file

        check_general_instructions_file(config["s4"]["general_data"])
