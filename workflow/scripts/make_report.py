"""Adapter of every plot_<name> rule -> factgap.reports.common.publish_report (module given by the rule)."""

from factgap.reports.common import publish_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)


def files_of(role):
    value = getattr(smk.input, role, [])
    return [value] if isinstance(value, str) else list(value)


publish_report(
    smk.params.module,
    {role: files_of(role) for role in smk.params.roles},
    smk.params.meta,
    smk.params.options,
    smk.params.science,
    files_of("manifests"),
    files_of("questions"),
    dict(smk.output.items()),
    shows=smk.params.shows,
)
