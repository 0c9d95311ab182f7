# Config validation, wildcard constraints and input functions shared by all rule files.
# Kept free of heavy imports: Snakemake re-reads this file for every job.
import ast
import os
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

validate(config, "../../config/schema.yaml")

RESULTS = config["results_dir"].rstrip("/")
CATEGORIES = ("HighlyKnown", "MaybeKnown", "WeaklyKnown", "Unknown")
STAGES = ("early_stop", "convergence")
# keep in step with factgap.splits.TRAINING_SET_PATTERN (a test checks they agree)
TRAINING_SET_PATTERN = (r"known|unknown|(?:idk-)?mix-unknown-(?:100|[1-9]?[0-9])"
                        r"|only-(?:HighlyKnown|MaybeKnown|WeaklyKnown|Unknown)")
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
PACKAGE_DIR = Path(workflow.basedir) / "src" / "factgap"


def config_error(key, problem):
    raise ValueError(f"config key '{key}': {problem}")


def check_config_semantics(cfg):
    """Rules the JSON schema cannot express; each error names the offending key."""
    known, unknown = cfg["splits"]["known_categories"], cfg["splits"]["unknown_categories"]
    overlap = sorted(set(known) & set(unknown))
    if overlap:
        config_error("splits.known_categories", f"{overlap} also listed in splits.unknown_categories")
    overlap_names = sorted(set(cfg["models"]) & set(cfg["helper_models"]))
    if overlap_names:
        config_error("helper_models", f"names {overlap_names} are already used in models")
    rationale = cfg["evaluation"]["rationale_model"]
    if rationale is not None and rationale not in {**cfg["models"], **cfg["helper_models"]}:
        config_error("evaluation.rationale_model", f"{rationale!r} is not a name in models or helper_models")
    for name, spec in cfg["datasets"].items():
        if spec["loader"] == "entityquestions" and not spec["path"]:
            config_error(f"datasets.{name}.path", "EntityQuestions needs the path of dataset.zip or its unpacked folder")
        fractions = spec["split_fractions"]
        if fractions.get("dev", 0) + fractions.get("test", 0) >= 1:
            config_error(f"datasets.{name}.split_fractions", "dev + test must leave room for train")
        both = sorted(set(spec["relations"]) & set(spec["ood_relations"]))
        if both:
            config_error(f"datasets.{name}.ood_relations", f"{both} are also in-distribution relations")
    s1 = cfg["s1"]
    if "s1" in cfg["studies"] and s1["dynamics_percentage"] not in s1["unknown_percentages"]:
        config_error("s1.dynamics_percentage", f"{s1['dynamics_percentage']} is not in s1.unknown_percentages")


check_config_semantics(config)

# Jobs import the library from this checkout, also inside conda envs (--use-conda) and on
# cluster nodes: put src/ first on their PYTHONPATH (jobs inherit the environment).
os.environ.update(
    PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent), *filter(None, os.getenv("PYTHONPATH", "").split(os.pathsep))])
)


wildcard_constraints:
    model=NAME_PATTERN,
    rmodel=NAME_PATTERN,
    dataset=NAME_PATTERN,
    trainset=TRAINING_SET_PATTERN,
    testset="test|ood",
    stage="|".join(STAGES),
    variant=rf"base|(?:{TRAINING_SET_PATTERN})-(?:{'|'.join(STAGES)})",
    prompt="zero_shot|four_shot|four_shot_cot",


# ---- names declared by the config ---------------------------------------------------------
MODELS = sorted(config["models"])
DATASETS = sorted(config["datasets"])
ALL_MODEL_SPECS = {**config["helper_models"], **config["models"]}


def s2_training_sets():
    return ["known", "unknown"]


def s2_variants():
    return ["base"] + [f"{t}-{s}" for t in s2_training_sets() for s in STAGES]


def mixture_set(percentage):
    """0% and 100% Unknown mixtures are the S2 known / unknown sets: trained once, shared."""
    return {0: "known", 100: "unknown"}.get(percentage, f"mix-unknown-{percentage}")


def s1_dynamics_set():
    return mixture_set(config["s1"]["dynamics_percentage"])


def s1_idk_set():
    return f"idk-mix-unknown-{config['s1']['dynamics_percentage']}" if config["s1"]["idk_variant"] else None


def single_category_set(category):
    if category == "Unknown" and config["splits"]["unknown_categories"] == ["Unknown"]:
        return "unknown"  # identical in distribution to the S2 Unknown set: trained once
    return f"only-{category}"


def s1_training_sets():
    names = [mixture_set(p) for p in sorted(config["s1"]["unknown_percentages"])]
    names += [single_category_set(c) for c in config["s1"]["single_category_sets"]]
    if s1_idk_set():
        names.append(s1_idk_set())
    return list(dict.fromkeys(names))


def s1_variants(training_sets=None):
    return [f"{t}-{s}" for t in (training_sets or s1_training_sets()) for s in STAGES]


def datasets_with_ood():
    return [d for d in DATASETS if config["datasets"][d]["ood_relations"]]


def predictions(variants, prompts, testset="test", datasets=None):
    return expand(
        f"{RESULTS}/eval/{{model}}/{{dataset}}/{testset}/{{variant}}/{{prompt}}.parquet",
        model=MODELS, dataset=datasets or DATASETS, variant=variants, prompt=prompts,
    )


def histories(training_sets):
    return expand(f"{RESULTS}/train/{{model}}/{{dataset}}/{{trainset}}/history.parquet",
                  model=MODELS, dataset=DATASETS, trainset=training_sets)


def summaries(training_sets):
    return [p.replace("history.parquet", "summary.parquet") for p in histories(training_sets)]


def history_meta(paths):
    """(model, dataset, training_set) of each history file, from its path."""
    return [dict(zip(("model", "dataset", "training_set"), Path(p).parts[-4:-1])) for p in paths]


def similarity_files():
    return expand(f"{RESULTS}/analysis/{{model}}/{{dataset}}/ood_similarity.json",
                  model=MODELS, dataset=datasets_with_ood())


# ---- library code as rule input --------------------------------------------------------------
# Snakemake watches a rule's script but not the library code the script imports. Listing the
# package modules a script imports (transitively) as inputs makes an edited library function
# rerun exactly the jobs that use it.
def _imports_of(mod):
    path = PACKAGE_DIR.joinpath(*mod.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("factgap"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("factgap"))
    return {m for m in found if _module_path(m) is not None}, path


def _module_path(mod):
    base = PACKAGE_DIR.joinpath(*mod.split(".")[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def library_sources(*mods):
    """Files of ``mods`` and of every factgap module they import, transitively."""
    seen, todo, files = set(), list(mods), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        imports, path = _imports_of(mod)
        files.add(str(path))
        todo.extend(imports - seen)
    return sorted(files)


# ---- input functions -------------------------------------------------------------------------
def model_manifest(wildcards):
    return f"{RESULTS}/models/{wildcards.model}/model.json"


def rationale_model_name(wildcards):
    return config["evaluation"]["rationale_model"] or wildcards.model


def rationale_model_manifest(wildcards):
    return f"{RESULTS}/models/{rationale_model_name(wildcards)}/model.json"


def adapter_of_variant(wildcards):
    """The LoRA adapter a variant evaluates: none for the base model."""
    if wildcards.variant == "base":
        return []
    trainset, stage = wildcards.variant.rsplit("-", 1)
    return f"{RESULTS}/train/{wildcards.model}/{wildcards.dataset}/{trainset}/{stage}"


def model_params(wildcards):
    return ALL_MODEL_SPECS[wildcards.model]


def dataset_params(wildcards):
    return config["datasets"][wildcards.dataset]


def ood_relations_of(wildcards):
    return config["datasets"][wildcards.dataset]["ood_relations"]


def learning_rate_of(wildcards):
    return config["models"][wildcards.model]["learning_rate"] or config["training"]["learning_rate"]


def prediction_meta(paths):
    """(model, dataset, testset) of each prediction file, from its path."""
    return [dict(zip(("model", "dataset", "testset"), Path(p).parts[-5:-2])) for p in paths]


def similarity_meta(paths):
    return [dict(zip(("model", "dataset"), Path(p).parts[-3:-1])) for p in paths]


def report_provenance_inputs():
    return {
        "manifests": expand(f"{RESULTS}/models/{{model}}/model.json", model=MODELS),
        "questions": expand(f"{RESULTS}/data/{{dataset}}/questions.parquet", dataset=DATASETS),
    }


def science_config():
    """The config sections a result depends on (recorded in every table's provenance)."""
    keys = ("seed", "models", "helper_models", "datasets", "probe", "splits", "training", "evaluation", "analysis", "backend")
    return {k: config[k] for k in keys}


def report_outputs(name):
    """The four files of a published table/figure."""
    return {
        "png": f"{RESULTS}/figures/{name}.png",
        "csv": f"{RESULTS}/tables/{name}.csv",
        "md": f"{RESULTS}/tables/{name}.md",
        "provenance": f"{RESULTS}/tables/{name}.provenance.json",
    }


def s1_comparisons():
    """Pairs of variants compared by the S1 paired t-test."""
    pairs = [(f"{t}-early_stop", f"{t}-convergence") for t in s1_training_sets()]
    pairs += [(f"known-{s}", f"unknown-{s}") for s in STAGES]
    return pairs


def s1_idk_pairs():
    idk = s1_idk_set()
    return [(f"{idk}-{s}", f"{s1_dynamics_set()}-{s}") for s in STAGES] if idk else []


def datasets_with_popularity():
    """Loaders whose data carry a popularity value (GeoNames population, PopQA s_pop)."""
    return [d for d in DATASETS if config["datasets"][d]["loader"] in ("geonames", "popqa")]


def s2_figures():
    names = ["s2_factuality_gap", "s2_icl_gains"]
    if datasets_with_popularity():
        names.append("s2_popularity")
    if datasets_with_ood():
        names.append("s2_ood_gap")
    return [f"{RESULTS}/figures/{n}.png" for n in names]


def s1_figures():
    names = ["s1_training_dynamics", "s1_category_accuracy", "s1_linear_fit", "s1_significance"]
    if s1_idk_set():
        names.append("s1_idk")
    return [f"{RESULTS}/figures/{n}.png" for n in names]
