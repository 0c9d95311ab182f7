"""Adapter: rule plot_s1_significance -> factgap.reports.s1_significance.make_report."""
from factgap.reports.common import table_provenance
from factgap.reports.s1_significance import make_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
make_report(smk.input.predictions, smk.params.meta, [tuple(p) for p in smk.params.comparisons],
            smk.params.analysis["significance_chunks"], smk.params.seed,
            table_provenance(smk.params.science, smk.input.manifests, smk.input.questions),
            smk.output.png, smk.output.csv, smk.output.md, smk.output.provenance)
