"""Adapter: rules generate_bios and generate_sft_bios -> factgap.factscore.pipeline.generate_bios_file."""

from factgap.factscore.pipeline import generate_bios_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
generate_bios_file(
    smk.input.manifest,
    smk.input.people,
    split=smk.wildcards.split,
    generation=smk.params.generation,
    seed=smk.params.seed,
    backend=smk.params.backend,
    out_path=smk.output[0],
    adapter_dir=getattr(smk.input, "adapter", None),  # a fine-tuned variant (generate_sft_bios)
)
