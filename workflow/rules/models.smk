rule prepare_model:
    """Point at (hub id / local dir) or convert (GGUF -> safetensors) a model; write its manifest."""
    input:
        code=library_sources("factgap.models"),
    output:
        manifest=f"{RESULTS}/models/{{model}}/model.json",
    params:
        spec=model_params,
        checkpoint_dir=f"{RESULTS}/models/{{model}}/checkpoint",
    log:
        f"{RESULTS}/logs/prepare_model/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_model/{{model}}.tsv"
    threads: 2
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/prepare_model.py"
