"""Adapter: rule plot_s1_linear_fit -> factgap.reports.s1_linear_fit.make_report."""
from factgap.reports.common import table_provenance
from factgap.reports.s1_linear_fit import make_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
s = smk.params.splits
make_report(smk.input.histories, smk.params.history_meta, smk.input.summaries, smk.input.predictions,
            smk.params.meta, s["known_categories"], s["unknown_categories"],
            table_provenance(smk.params.science, smk.input.manifests, smk.input.questions),
            smk.output.png, smk.output.csv, smk.output.md, smk.output.provenance)
