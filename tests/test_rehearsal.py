"""The rehearsal's stand-in models and released-layout data (factgap.rehearsal), and the S4 fixes the
rehearsal of config/paper/s4_medmcqa.yaml needed, checked on MedMCQA-layout rows."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from factgap.data.multiple_choice import load_medmcqa_records, load_mmlu_records
from factgap.rehearsal import layouts
from factgap.rehearsal.inputs import standin_names
from factgap.rehearsal.standins import FAMILIES, build_tokenizer, parse_standin_name
from factgap.s4.sets import to_sft_records

CORPUS = ["Q: What is the capital of France?\nA: Paris", "Which country is Lyon located in? France"] * 20


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_standin_tokenizers_keep_their_familys_properties(family):
    base = build_tokenizer(FAMILIES[family], CORPUS, chat=False)
    chat = build_tokenizer(FAMILIES[family], CORPUS, chat=True)
    assert not base.chat_template and chat.chat_template  # base models have no chat template
    ids = base("Answer:A")["input_ids"]
    assert ids[0] == base.convert_tokens_to_ids(FAMILIES[family].bos)  # BOS prepended, as the paper models do
    pieces = base.convert_ids_to_tokens(ids[1:])
    assert pieces[-1] in ("A", "▁A") and ":" in pieces[-2]  # the letter after the cue stays its own token
    assert base.decode(ids, skip_special_tokens=True) == "Answer:A"
    rendered = chat.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered.startswith(FAMILIES[family].bos) and "hi" in rendered


def test_sentencepiece_standins_split_digits_and_newlines():
    tok = build_tokenizer(FAMILIES["llama2"], CORPUS + ["1984 and 2023"], chat=False)
    pieces = tok.tokenize("in 1984\nA:")
    assert [p for p in pieces if p.strip("▁").isdigit()] == ["▁1", "9", "8", "4"] or all(
        len(p.strip("▁")) == 1 for p in pieces if p.strip("▁").isdigit()
    )
    assert any(p in ("\n", "<0x0A>") for p in pieces)


def test_standin_names_are_checked():
    assert parse_standin_name("llama3-instruct") == ("llama3", True)
    with pytest.raises(ValueError, match="llama4-base"):
        parse_standin_name("llama4-base")


def test_every_paper_config_has_an_overlay_of_sizes_and_locations_only():
    """Overlays change sizes and model / data locations; the science keys stay the paper config's."""
    allowed_leaf_words = ("path", "revision", "max_", "n_", "epochs", "batch_size", "gradient_accumulation_steps",
                          "max_length", "max_new_tokens", "k", "significance_chunks", "bootstrap_resamples",
                          "dev_per_relation", "dev_people", "embedding_model", "entities_path", "knowledge_db",
                          "ood_qa_sets")  # fmt: skip

    def leaves(tree, prefix=""):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", key

    for paper in sorted((REPO / "config" / "paper").glob("*.yaml")):
        overlay = yaml.safe_load((REPO / "config" / "rehearsal" / paper.name).read_text())
        for dotted, key in leaves(overlay):
            assert "max_" in dotted or key.startswith(allowed_leaf_words), f"{paper.name}: {dotted}"
        models = set(yaml.safe_load(paper.read_text()).get("models", {}))
        assert set(overlay["models"]) == models, paper.name  # every paper model has its stand-in
        assert standin_names(overlay)


def test_medmcqa_layout_with_the_papers_filters(tmp_path):
    folder = layouts.write_medmcqa_jsonl(tmp_path / "medmcqa")
    rows = {s: [json.loads(line) for line in (folder / f"{s}.json").read_text().splitlines()] for s in ("train", "dev")}
    assert "cop" not in json.loads((folder / "test.json").read_text().splitlines()[0])  # released test: no answers
    kept = load_medmcqa_records(folder, single_choice_only=True, require_explanation=True)
    expected = {
        s: [r for r in rows[s] if r["choice_type"] == "single" and r["exp"] is not None] for s in ("train", "dev")
    }
    # train -> training pool (and a held-out demo pool), dev -> the HOMO test; the released test is never read
    assert sum(r["split"] in ("train", "dev") for r in kept) == len(expected["train"])
    assert sum(r["split"] == "test" for r in kept) == len(expected["dev"])
    assert all(r["explanation"] for r in kept)
    everything = load_medmcqa_records(folder, single_choice_only=False, require_explanation=False)
    assert len(everything) == len(rows["train"]) + len(rows["dev"])
    first = next(r for r in everything if r["id"] == f"medmcqa:{rows['train'][0]['id']}")
    assert first["answer_index"] == rows["train"][0]["cop"] - 1  # the original release counts options from 1


def test_mmlu_csv_layout_reads_every_subject(tmp_path):
    records = load_mmlu_records(layouts.write_mmlu_csv(tmp_path / "mmlu"))
    subjects = {r["subject"] for r in records}
    assert len(subjects) == 57
    per_split = {s: sum(r["split"] == s for r in records) for s in ("train", "dev", "test")}
    assert per_split == {"train": 5 * 57, "dev": 5 * 57, "test": 30 * 57}


def test_base_model_sft_records_are_the_plain_test_format():
    records = [{"instruction": "Q?\nA. x\nB. y\nAnswer:", "response": "B. y"}]
    assert to_sft_records(records, conversational=False) == [
        {"prompt": "Q?\nA. x\nB. y\nAnswer:\n", "completion": "B. y"}
    ]
    assert to_sft_records(records)[0]["prompt"][0]["role"] == "user"


def test_probe_demos_from_the_whole_dev_pool_of_a_released_dataset(tmp_path, tiny_llama):
    """MedMCQA's 10 development questions span many subjects: per-subject pools would hold fewer than the
    five demos; the dataset's pool serves every subject (MMLU keeps per-subject demos)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from factgap.s4.pipeline import probe_mc_file

    def item(i, subject, split):
        return {"id": f"q{i}", "subject": subject, "question": f"Question {i}?", "choices": ["a", "b", "c", "d"],
                "answer_index": i % 4, "explanation": None, "split": split}  # fmt: skip

    items = [item(i, f"subject {i % 5}", "dev") for i in range(10)] + [
        item(10 + i, "subject 0", "test") for i in range(3)
    ]
    path = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(items), path)
    common = dict(domain="medicine", scoring="letter", n_demos=5, demo_seed=42, threshold=0.5, batch_size=4)
    with pytest.raises(ValueError, match="need 5 demonstrations, the dev split has 2"):
        probe_mc_file(tiny_llama, path, tmp_path / "a.parquet", **common, demo_pool="subject")
    probe_mc_file(tiny_llama, path, tmp_path / "b.parquet", **common, demo_pool="dataset")
    assert pq.read_table(tmp_path / "b.parquet").num_rows == 3


def test_rehearsal_script_refuses_unknown_configs():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "rehearse.py"), "s9_nothing"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown paper config(s) s9_nothing" in proc.stderr
    assert Path(REPO / "config" / "rehearsal").is_dir()


def test_llama3_standin_keeps_a_blank_line_one_piece_before_a_letter():
    tok = build_tokenizer(FAMILIES["llama3"], CORPUS + ["a\n\nb"] * 5, chat=True)
    context = tok.apply_chat_template([{"role": "user", "content": "Q?"}], tokenize=False, add_generation_prompt=True)
    plain = tok(context, add_special_tokens=False)["input_ids"]
    with_letter = tok(context + "A", add_special_tokens=False)["input_ids"]
    assert with_letter[: len(plain)] == plain and len(with_letter) == len(plain) + 1


def test_s3_part2_figures_take_two_models(tmp_path):
    """The S3 paper config tunes two models: each figure gets a row of panels per model (one row
    before, and a duplicate-index error with two)."""
    import pandas as pd

    from factgap.reports import s3_alignment_gaps, s3_preference_effects

    effects, gaps = [], []
    for model in ("llama-2-7b-chat", "llama-3-8b-instruct"):
        for variant in ("base", "dpo_general", "dpo_general+atomic"):
            effects.append({"model": model, "variant": variant, "metric": "factscore_test", "change": 0.02,
                            "change_low": -0.01, "change_high": 0.05})  # fmt: skip
        for comparison in ("general - base", "general+atomic - base"):
            gaps.append({"model": model, "method": "dpo", "metric": "factscore_test", "comparison": comparison,
                         "diff": 0.01, "diff_low": -0.02, "diff_high": 0.04})  # fmt: skip
    s3_preference_effects.plot(pd.DataFrame(effects), tmp_path / "effects.png")
    s3_alignment_gaps.plot(pd.DataFrame(gaps), tmp_path / "gaps.png")
    assert (tmp_path / "effects.png").stat().st_size > 0 and (tmp_path / "gaps.png").stat().st_size > 0


def test_saved_standins_do_not_truncate_what_they_read(tmp_path):
    """Training the stand-in truncates its texts; the saved tokenizer must not keep that truncation (a
    base stand-in once cut every prompt to its last 160 tokens)."""
    from transformers import AutoTokenizer

    from factgap.rehearsal.standins import build_family

    texts = CORPUS + ["Q: Which country is Houlgate located in?\nA: France " * 40]
    outs = {"llama2-base": tmp_path / "base", "llama2-instruct": tmp_path / "instruct"}
    build_family(outs, texts, texts, steps=2, hidden_size=16)
    for out in outs.values():
        assert json.loads((out / "tokenizer.json").read_text())["truncation"] is None
        tok = AutoTokenizer.from_pretrained(out)
        long_text = "Which country is Lyon located in? France " * 60
        assert len(tok(long_text)["input_ids"]) > 160 and tok.truncation_side == "right"
