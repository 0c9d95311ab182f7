# factgap: fine-tuning on known vs unknown knowledge, and what it does to factuality. Table of
# contents: stages in workflow/rules/, logic in src/factgap/; `--configfile X` replaces config.yaml.
if not workflow.config_settings.configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common/config.smk"
include: "workflow/rules/common/inputs.smk"
include: "workflow/rules/shared/prefetch.smk"
include: "workflow/rules/shared/models.smk"
include: "workflow/rules/shared/data.smk"
include: "workflow/rules/shared/probe.smk"
include: "workflow/rules/shared/qa_splits.smk"
include: "workflow/rules/shared/train.smk"
include: "workflow/rules/shared/evaluate.smk"
include: "workflow/rules/reports.smk"
include: "workflow/rules/s1/study.smk"
include: "workflow/rules/s2/study.smk"
include: "workflow/rules/s3/study.smk"
include: "workflow/rules/s2/bios.smk"  # S2 on S3's bio set: after S3's rules
include: "workflow/rules/s4/study.smk"
include: "workflow/rules/seeds.smk"
include: "workflow/rules/run_report.smk"


# Every table and figure of the studies enabled in config (studies:). (A comment, not a docstring:
# snakefmt moves default_target above a docstring and then cannot read the rule back.)
rule all:
    default_target: True
    input:
        enabled_figures(),
    localrule: True


rule report_items:
    """Every table and figure of the enabled studies plus the run's cost and provenance: the items of
    `snakemake report_items --report results/report.html` (`make report`)."""
    input:
        enabled_figures(),
        LAYOUT.run_report_outputs()["costs_csv"],
    localrule: True
