# Input functions: what a job needs, from its wildcards. Paths come from LAYOUT (factgap.paths).


def model_manifest(wildcards):
    return LAYOUT.model_manifest(wildcards.model)


def rationale_model_name(wildcards):
    return config["evaluation"]["rationale_model"] or wildcards.model


def rationale_model_manifest(wildcards):
    return LAYOUT.model_manifest(rationale_model_name(wildcards))


def adapter_of_variant(wildcards):
    """The LoRA adapter a variant evaluates: none for the base model. Preference-tuned adapters (S3)
    are trained on the bio set, whatever data they are evaluated on; SFT ones on the dataset itself."""
    variant = naming.parse_variant_path(wildcards.variant)
    if variant.is_base:
        return []
    trained_on = s3_design.people_set(config) if variant.method in naming.PREFERENCE_METHODS else wildcards.dataset
    return LAYOUT.adapter(wildcards.model, trained_on, variant)


def variant_label_of(wildcards):
    return naming.parse_variant_path(wildcards.variant).label


def model_params(wildcards):
    return ALL_MODEL_SPECS[wildcards.model]


def dataset_params(wildcards):
    # which studies use a dataset does not change its table: editing that list reruns nothing here
    return {k: v for k, v in config["datasets"][wildcards.dataset].items() if k != "studies"}


def hub_item_params(wildcards):
    return dataclasses.asdict(HUB_ITEMS_BY_NAME[wildcards.hub_item])


def hub_records_of(*config_keys):
    """Prefetch records of the Hub items these config keys name (none for local files and packages)."""
    return [LAYOUT.hub_record(HUB_ITEMS_BY_KEY[key].name) for key in config_keys if key in HUB_ITEMS_BY_KEY]


def local_files_of(*config_keys):
    """The local files these dotted config keys name (a file, or every file under a folder), so that an
    edited copy of a dataset reruns the jobs that read it; nothing for null, Hub ids and packages."""
    files = []
    for _, value in local_paths_of(config, *config_keys):
        path = Path(value)
        if path.is_file():
            files.append(str(path))
        elif path.is_dir():
            files += sorted(str(f) for f in path.rglob("*") if f.is_file())
    return files


def local_files_of_qa_dataset(wildcards):
    return local_files_of(f"datasets.{wildcards.dataset}.path")


def hub_records_of_model(wildcards):
    return hub_records_of(f"models.{wildcards.model}.path", f"helper_models.{wildcards.model}.path")


def local_files_of_model(wildcards):
    """Every file of a local model folder (or the local GGUF file): new weights rerun the model's jobs."""
    return local_files_of(f"models.{wildcards.model}.path", f"helper_models.{wildcards.model}.path")


def hub_records_of_qa_dataset(wildcards):
    return hub_records_of(f"datasets.{wildcards.dataset}")


def ood_relations_of(wildcards):
    return config["datasets"][wildcards.dataset]["ood_relations"]


def learning_rate_of(wildcards):
    return config["models"][wildcards.model]["learning_rate"] or config["training"]["learning_rate"]


def provenance_inputs(study):
    """Files a published table records the identity of: the model manifests and the study's data."""
    if study == "s4":
        data = [LAYOUT.mc_items(S4_DATASET), LAYOUT.mc_items(s4_design.MMLU)]
    elif study == "s3":
        data = [LAYOUT.people(s3_design.people_set(config))]
    else:
        data = [LAYOUT.questions(d) for d in study_datasets(config, study)]
        if study == "s2" and s2_design.on_bios(config):
            data.append(LAYOUT.people(s3_design.people_set(config)))
    return {"manifests": [LAYOUT.model_manifest(m) for m in MODELS], "questions": data}


# ---- seed sweeps (workflow/rules/seeds.smk) ----
def seed_layouts():
    """Results layout of every seed of config `seeds` (each ran under <results_dir>/seed-<n>)."""
    return {
        s: ResultsLayout(seed_design.seed_root(config["results_dir"], s), config["models_dir"]) for s in config["seeds"]
    }


def seed_tables_by_seed(wildcards):
    return {
        s: {spec.name: layout.report_outputs(spec.name)["csv"] for spec in STUDY_REPORTS[wildcards.study]}
        for s, layout in seed_layouts().items()
    }


def seed_tables_of_study(wildcards):
    return [path for tables in seed_tables_by_seed(wildcards).values() for path in tables.values()]


def seed_predictions_by_seed(wildcards):
    files = {
        s: seed_design.study_prediction_files(wildcards.study, config, layout) for s, layout in seed_layouts().items()
    }
    return {s: ([f.path for f in fs], [f.meta for f in fs]) for s, fs in files.items()}


def seed_predictions_of_study(wildcards):
    return [path for paths, _ in seed_predictions_by_seed(wildcards).values() for path in paths]


def report_item(path, caption, category, subcategory, item, kind):
    """``path`` as an item of the Snakemake report with the caption file a rule writes. Snakemake reads a
    caption relative to the rule file's folder unless it is absolute (the working directory is the run's)."""
    return report(
        path,
        caption=os.path.abspath(caption),
        category=category,
        subcategory=subcategory,
        labels={"item": item, "kind": kind},
    )


def report_items(study, name):
    """The published files of one table/figure; the figure and the table are items of the Snakemake
    report (`snakemake --report`), under the study's category, with the caption the rule writes."""
    files, caption, category = LAYOUT.report_outputs(name), LAYOUT.report_caption(name), STUDY_CATEGORIES[study]
    return {
        **files,
        "png": report_item(files["png"], caption, category, name, name, "figure"),
        "csv": report_item(files["csv"], caption, category, name, name, "table"),
    }


def enabled_table_provenance():
    """The provenance sidecar of every table of the enabled studies."""
    return [
        LAYOUT.report_outputs(spec.name)["provenance"] for study in config["studies"] for spec in STUDY_REPORTS[study]
    ]


def run_report_items():
    """Cost and provenance files of the run; the CSVs and the cost figure are report items."""
    files, category = LAYOUT.run_report_outputs(), "Run: cost and provenance"
    return {
        **files,
        "costs_csv": report_item(files["costs_csv"], files["caption"], category, "cost", "run_costs", "table"),
        "costs_png": report_item(files["costs_png"], files["caption"], category, "cost", "run_costs", "figure"),
        "provenance_csv": report_item(
            files["provenance_csv"], files["provenance_caption"], category, "provenance", "run_provenance", "table"
        ),
    }


def gpus_per_rule():
    """GPUs each rule asks for in the active profile (set-resources gpu/gpus), for the GPU-hours of the
    cost table; a value Snakemake evaluates per job (a string) counts as 1."""
    gpus = {}
    for rule, resources in workflow.resource_settings.overwrite_resources.items():
        for key in ("gpu", "gpus"):
            value = resources.get(key)
            if value is not None:
                gpus[rule] = int(value) if str(value).isdigit() else 1
    return gpus


# ---- evaluate_model_prompt_modes ----
# the trained variants evaluated under every prompt mode (S2's ICL comparison); none when S2 is off. The
# base model keeps one job per mode: S1 and S3 alone ask for one mode of it each.
PROMPT_COMPARISON_VARIANT_PATTERN = (
    "|".join(
        re.escape(v.path) for v in (s2_design.variants(config) if "s2" in config["studies"] else []) if not v.is_base
    )
    or "(?!)"
)


def test_predictions_of_every_prompt():
    """Output files of evaluate_model_prompt_modes: the test-set predictions, one per prompt mode."""
    return {
        prompt: LAYOUT.prediction("{model}", "{dataset}", "test", "{variant}", prompt)
        for prompt in config["evaluation"]["prompts"]
    }


# ---- params: each job gets only the config values it reads, so an edit reruns exactly what it changes ----
def s4_keys(*keys):
    """Only these keys of the s4 section: a job reruns when a value it reads changes, not another."""
    return {key: config["s4"][key] for key in keys}


S4_SCORING_KEYS = ("domain", "scoring", "batch_size")
S4_TEXT_KEYS = S4_SCORING_KEYS + (
    "gold_explanations",
    "evidence_source",
    "contextualized",
    "explanation_max_new_tokens",
    "explanation_temperature",
    "explanation_top_p",
)


def s3_pair_spec():
    """What build_preference_pairs reads of s3.preference (not the methods, pair sets or training)."""
    return {key: config["s3"]["preference"][key] for key in ("general", "atomic", "rso", "dev_fraction")}


def preference_settings_of(wildcards):
    """The parts of s3 one method's training reads (shared training, its own overrides, the KTO rule and
    the prompt rendering), in s3's shape: another method's settings or the method list do not rerun it."""
    preference = config["s3"]["preference"]
    return {
        "preference": {
            "training": preference["training"],
            "kto_conflicts": preference["kto_conflicts"],
            "per_method": {wildcards.method: preference["per_method"].get(wildcards.method, {})},
        },
        "generation": {"chat_template": config["s3"]["generation"]["chat_template"]},
    }


# ---- S2 on bios (workflow/rules/s2/bios.smk) ----
SFT_BIO_VARIANT_PATTERN = "|".join(re.escape(v.path) for v in naming.sft_variants(s2_design.training_sets(config)))


def bio_request_template(wildcards):
    """s3.generation.prompt, through a function: its {entity} is not a wildcard."""
    return config["s3"]["generation"]["prompt"]


def bio_training_generation(wildcards):
    """The generation keys train_bio_lora's dev bios read (a function: the prompt's {entity})."""
    return {k: config["s3"]["generation"][k] for k in ("prompt", "chat_template", "max_new_tokens", "batch_size")}


def bio_adapter_of_variant(wildcards):
    """The adapter trained on the bio set's Known or Unknown people."""
    return LAYOUT.adapter(wildcards.model, wildcards.people, naming.parse_variant_path(wildcards.variant))
