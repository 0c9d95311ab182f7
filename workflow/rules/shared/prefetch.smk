# Hub models and datasets the config names: downloaded once into the Hugging Face cache (HF_HOME) and
# pinned to a commit. Local rules, so on a cluster they run where Snakemake runs (the login node, which
# reaches the Hub); `make prefetch CONFIG=...` runs only these.


rule prefetch_hub_item:
    """Download one Hub model or dataset; record its commit SHA and snapshot folder."""
    output:
        LAYOUT.hub_record("{hub_item}"),
    log:
        LAYOUT.log("prefetch_hub_item", "{hub_item}"),
    localrule: True
    params:
        item=hub_item_params,
    script:
        "../../scripts/prefetch_hub_item.py"


rule prefetch:
    """Every Hub item of the config (none for the embedded default), listed with its commit and folder."""
    input:
        [LAYOUT.hub_record(item.name) for item in HUB_ITEMS],
    output:
        LAYOUT.hub_record("prefetched").removesuffix(".json") + ".tsv",
    log:
        LAYOUT.log("prefetch"),
    localrule: True
    script:
        "../../scripts/list_prefetched.py"
