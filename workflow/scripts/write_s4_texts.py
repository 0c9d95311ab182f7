"""Adapter: rule write_s4_texts -> factgap.s4.pipeline.write_texts_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import write_texts_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
s4 = smk.params.s4
write_texts_file(
    smk.input.manifest,
    smk.input.sets,
    smk.input.mc_items,
    domain=s4["domain"],
    gold_source=s4["gold_explanations"],
    evidence_source=s4["evidence_source"],
    contextualized=s4["contextualized"],
    max_new_tokens=s4["explanation_max_new_tokens"],
    temperature=s4["explanation_temperature"],
    top_p=s4["explanation_top_p"],
    seed=smk.params.seed,
    batch_size=s4["batch_size"],
    out_path=smk.output[0],
)
