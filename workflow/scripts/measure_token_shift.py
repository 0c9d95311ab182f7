"""Adapter: rule measure_token_shift -> factgap.preference.token_shift.measure_token_shift_file."""
from factgap.preference.token_shift import measure_token_shift_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
responses = {domain: smk.input[domain] for domain in ("in_domain", "out_of_domain") if domain in smk.input.keys()}
measure_token_shift_file(smk.input.manifest, responses, smk.output[0], chat_template=smk.params.chat_template,
                         marginal_max=smk.params.token_shift["marginal_max"],
                         batch_size=smk.params.token_shift["batch_size"])
