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
    return config["datasets"][wildcards.dataset]


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
        data = [LAYOUT.questions(d) for d in DATASETS]
    return {"manifests": [LAYOUT.model_manifest(m) for m in MODELS], "questions": data}
