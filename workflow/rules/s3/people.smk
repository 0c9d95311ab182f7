rule prepare_people:
    """The people of the bio set: knowledge texts, structured slots, popularity tier, disjoint splits."""
    input:
        code=library_sources("factgap.factscore.pipeline"),
        local=local_files_of("s3.people.entities_path", "s3.people.knowledge_db"),
    output:
        LAYOUT.people("{people}"),
    log:
        LAYOUT.log("prepare_people", "{people}"),
    wildcard_constraints:
        people=re.escape(S3_PEOPLE),
    localrule: True
    params:
        spec=config["s3"]["people"],
        seed=config["seed"],
    script:
        "../../scripts/prepare_people.py"


rule prepare_topics:
    """Out-of-domain topics: non-person Vital Articles with their lead paragraph as knowledge."""
    input:
        code=library_sources("factgap.factscore.topics"),
        local=local_files_of("s3.evaluation.ood_topics.path"),
    output:
        LAYOUT.people(S3_TOPICS or "no-topics"),
    log:
        LAYOUT.log("prepare_topics", S3_TOPICS or "no-topics"),
    localrule: True
    params:
        spec=config["s3"]["evaluation"]["ood_topics"],
        seed=config["seed"],
    script:
        "../../scripts/prepare_topics.py"
