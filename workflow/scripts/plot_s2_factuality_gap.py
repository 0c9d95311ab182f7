"""Adapter: rule plot_s2_factuality_gap -> factgap.reports.s2_factuality_gap.make_report."""
from factgap.reports.common import table_provenance
from factgap.reports.s2_factuality_gap import make_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
a = smk.params.analysis
make_report(smk.input.predictions, smk.params.meta, "known", "unknown", a["bootstrap_resamples"], a["confidence"],
            smk.params.seed, table_provenance(smk.params.science, smk.input.manifests, smk.input.questions),
            smk.output.png, smk.output.csv, smk.output.md, smk.output.provenance)
