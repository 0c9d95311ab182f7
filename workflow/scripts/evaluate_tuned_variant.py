"""Adapter: rule evaluate_tuned_variant -> factgap.preference.variant_evaluation.evaluate_tuned_variant."""

from factgap.preference.variant_evaluation import (
    BiosTask,
    MMLUTask,
    OODQATask,
    QATask,
    TokenShiftTask,
    evaluate_tuned_variant,
)
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
inp, out, settings = smk.input, smk.output, smk.params.settings
has = set(out.keys())
shift = settings["token_shift"]
evaluate_tuned_variant(
    inp.manifest,
    inp.adapter,
    variant=smk.params.variant,
    backend=smk.params.backend,
    seed=smk.params.seed,
    bios=BiosTask(inp.people, settings["bios"], out.bios),
    topics=BiosTask(inp.topics, settings["topics"], out.topics) if "topics" in has else None,
    qa=QATask(inp.qa_test, inp.qa_exemplars, out_path=out.qa, **settings["qa"]) if "qa" in has else None,
    ood_qa=[
        OODQATask(spec, settings["ood_qa"]["generation"], out[f"ood_qa_{spec['name']}"])
        for spec in settings["ood_qa"]["sets"]
    ],
    mmlu=MMLUTask(inp.mmlu, out_path=out.mmlu, **settings["mmlu"]) if "mmlu" in has else None,
    token_shift=TokenShiftTask(shift["chat_template"], shift["marginal_max"], shift["batch_size"], out.token_shift),
)
