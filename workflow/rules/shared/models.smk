rule prepare_model:
    """Point at (hub id / local dir) or convert (GGUF -> safetensors) a model; write its manifest."""
    input:
        code=library_sources("factgap.models", "factgap.hub"),
        hub=hub_records_of_model,
        local=local_files_of_model,
    output:
        manifest=LAYOUT.model_manifest("{model}"),
    log:
        LAYOUT.log("prepare_model", "{model}"),
    benchmark:
        LAYOUT.benchmark("prepare_model", "{model}")
    threads: 2
    params:
        spec=model_params,
        checkpoint_dir=LAYOUT.model_checkpoint("{model}"),
    script:
        "../../scripts/prepare_model.py"
