rule prepare_dataset:
    """Raw dataset (any configured loader) -> the normalised QA table with train/dev/test."""
    input:
        code=library_sources("factgap.data.prepare", "factgap.hub"),
        hub=hub_records_of_qa_dataset,
        local=local_files_of_qa_dataset,
    output:
        LAYOUT.questions("{dataset}"),
    log:
        LAYOUT.log("prepare_dataset", "{dataset}"),
    localrule: True
    params:
        spec=dataset_params,
        seed=config["seed"],
    script:
        "../../scripts/prepare_dataset.py"
