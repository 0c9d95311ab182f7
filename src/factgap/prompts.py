"""Prompt formats shared by probing, training and evaluation (pure).

One plain format for every model, base or instruct: "Q: <question>\\nA: <answer>".
Few-shot exemplars are separated by a blank line; chain-of-thought exemplars put a
"Reasoning:" line between the question and the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

QA_TEMPLATE = "Q: {question}\nA:"
EXEMPLAR_SEPARATOR = "\n\n"
IDK_ANSWER = "I don't know"


def qa_prompt(question: str) -> str:
    return QA_TEMPLATE.format(question=question)


def qa_completion(answer: str) -> str:
    return f" {answer}"


def few_shot_prompt(question: str, exemplars: Sequence[Mapping[str, str]]) -> str:
    """Exemplars are mappings with 'question' and 'answer'."""
    shots = [f"{qa_prompt(e['question'])} {e['answer']}" for e in exemplars]
    return EXEMPLAR_SEPARATOR.join([*shots, qa_prompt(question)])


def cot_exemplar(question: str, rationale: str, answer: str) -> str:
    return f"Q: {question}\nReasoning: {rationale}\nA: {answer}"


def cot_prompt(question: str, exemplars: Sequence[Mapping[str, str]]) -> str:
    """Exemplars carry 'question', 'rationale', 'answer'; the model continues after 'Reasoning:'."""
    shots = [cot_exemplar(e["question"], e["rationale"], e["answer"]) for e in exemplars]
    return EXEMPLAR_SEPARATOR.join([*shots, f"Q: {question}\nReasoning:"])


def rationale_prompt(question: str, answer: str) -> str:
    """Asks the rationale model for a one-sentence justification of a known answer."""
    return (
        f"Question: {question}\nAnswer: {answer}\n"
        f"Explain in one short sentence why the answer is {answer}.\nExplanation:"
    )


def chat_prompt(tokenizer, message: str, use_template: bool = True) -> str:
    """One user turn with the generation prompt (the model's chat template), or the plain message
    and a newline for a model without one."""
    if use_template and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
        )
    return message + "\n"
