"""Adapter: rule plot_s1_training_dynamics -> factgap.reports.s1_training_dynamics.make_report."""
from factgap.reports.common import table_provenance
from factgap.reports.s1_training_dynamics import make_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
a, s = smk.params.analysis, smk.params.splits
make_report(smk.input.histories, smk.params.history_meta, smk.input.summaries, s["known_categories"],
            s["unknown_categories"], a["bootstrap_resamples"], a["confidence"], smk.params.seed,
            table_provenance(smk.params.science, smk.input.manifests, smk.input.questions),
            smk.output.png, smk.output.csv, smk.output.md, smk.output.provenance)
