rule prepare_people:
    """The people of the bio set: knowledge texts, structured slots, popularity tier, disjoint splits."""
    input:
        code=library_sources("factgap.factscore.pipeline"),
    output:
        LAYOUT.people("{people}"),
    params:
        spec=config["s3"]["people"],
        seed=config["seed"],
    log:
        LAYOUT.log("prepare_people", "{people}"),
    localrule: True
    conda:
        "../../../envs/data.yaml"
    script:
        "../../scripts/prepare_people.py"
