# One rule per published table/figure, generated from each study's table of reports
# (factgap.studies.<study>.reports): `snakemake results/figures/<name>.png` (re)builds it and only
# what it needs. Each report module is its own library file, so editing one figure's code reruns
# that figure alone.
STUDY_DESIGNS = {"s1": s1_design, "s2": s2_design, "s3": s3_design, "s4": s4_design}
STUDY_REPORTS = {study: design.reports(config, LAYOUT) for study, design in STUDY_DESIGNS.items()}
STUDY_CATEGORIES = {
    "s1": "S1: fitting Unknown examples",
    "s2": "S2: Known vs Unknown fine-tuning",
    "s3": "S3: atomic preference tuning",
    "s4": "S4: learning or self-aligning",
}


def study_figures(study):
    return [LAYOUT.figure(spec.name) for spec in STUDY_REPORTS[study]]


def enabled_figures():
    return [f for study in config["studies"] for f in study_figures(study)]


for _study, _spec in ((study, spec) for study, specs in STUDY_REPORTS.items() for spec in specs):

    rule:
        name:
            f"plot_{_spec.name}"
        input:
            **_spec.paths(),
            **provenance_inputs(_study),
            code=library_sources(_spec.module),
        output:
            **report_items(_study, _spec.name),
            caption=LAYOUT.report_caption(_spec.name),
        log:
            LAYOUT.log(f"plot_{_spec.name}"),
        localrule: True
        params:
            module=_spec.module,
            shows=_spec.doc,
            meta=_spec.meta(),
            options=dict(_spec.options),
            roles=list(_spec.files),
            science=SCIENCE,
        script:
            "../scripts/make_report.py"
