"""Per-pair preference losses from sequence log-probabilities (pure torch, no TRL).

These restate the formulas TRL 1.16 trains with, so that they can be checked by hand and against
TRL's own code (tests/test_preference_losses.py), and so that the evaluation can compute the
same implicit rewards the trainers optimise. Inputs are 1-D tensors of summed completion
log-probabilities, one entry per pair (or per row for KTO):

    h = (log pi(y_c|x) - log ref(y_c|x)) - (log pi(y_r|x) - log ref(y_r|x))

* DPO (``loss_type=["sigmoid"]``):  -logsigmoid(beta * h)
* IPO (``["ipo"]``):              (h - 1 / (2 beta))^2; TRL divides each log-ratio by its
  completion's token count first (length-normalised IPO; the IPO authors' form): pass lengths.
* hinge (``["hinge"]``, the RSO loss): relu(1 - beta * h)
* CPO (``trl.experimental.cpo``, no reference model): -logsigmoid(beta * (log pi(y_c) - log pi(y_r)))
  + alpha * NLL(y_c)
* KTO: desirable rows 1 - sigmoid(beta * (logratio - z0)), undesirable 1 - sigmoid(beta * (z0 - logratio)),
  weighted; z0 = max(0, mean KL estimate) from mismatched (prompt, completion) pairs, not back-propagated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _per_token(logps: Tensor, lengths: Tensor | None) -> Tensor:
    return logps if lengths is None else logps / lengths.to(logps.dtype).clamp(min=1.0)


def logratio_delta(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> Tensor:
    """h = chosen log-ratio - rejected log-ratio; with lengths, each log-ratio per completion token."""
    return _per_token(policy_chosen - ref_chosen, chosen_lengths) - _per_token(
        policy_rejected - ref_rejected, rejected_lengths
    )


def dpo_loss(
    policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor, beta: float
) -> Tensor:
    """DPO (Rafailov et al. 2023): -logsigmoid(beta * h), per pair."""
    return -F.logsigmoid(beta * logratio_delta(policy_chosen, policy_rejected, ref_chosen, ref_rejected))


def ipo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> Tensor:
    """IPO (Azar et al. 2023, eq. 17): (h - 1/(2 beta))^2, per pair.

    Pass the completion token counts to get TRL's length-normalised form (average log-probs);
    without them h uses summed log-probs, as the paper writes it.
    """
    h = logratio_delta(policy_chosen, policy_rejected, ref_chosen, ref_rejected, chosen_lengths, rejected_lengths)
    return (h - 1.0 / (2.0 * beta)) ** 2


def hinge_loss(
    policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor, beta: float
) -> Tensor:
    """Hinge (SLiC-style; RSO trains with it): relu(1 - beta * h), per pair."""
    return torch.relu(1.0 - beta * logratio_delta(policy_chosen, policy_rejected, ref_chosen, ref_rejected))


def cpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    beta: float,
    alpha: float = 1.0,
    chosen_nll: Tensor | None = None,
    chosen_lengths: Tensor | None = None,
) -> Tensor:
    """CPO (Xu et al. 2024): -logsigmoid(beta * (log pi(y_c) - log pi(y_r))) + alpha * NLL(y_c), per pair.

    ``chosen_nll`` defaults to the chosen completion's mean token NLL (``-policy_chosen /
    chosen_lengths``). TRL adds alpha times the token-mean cross-entropy over all chosen tokens of
    the batch, which equals the mean of the per-pair values only when the lengths are equal.
    """
    loss = -F.logsigmoid(beta * (policy_chosen - policy_rejected))
    if alpha == 0:
        return loss
    if chosen_nll is None:
        if chosen_lengths is None:
            raise ValueError("cpo_loss with alpha != 0 needs chosen_nll or chosen_lengths")
        chosen_nll = -_per_token(policy_chosen, chosen_lengths)
    return loss + alpha * chosen_nll


def kto_reference_point(kl_policy_logps: Tensor, kl_ref_logps: Tensor) -> Tensor:
    """KTO's z0 as TRL estimates it: mean log-ratio of mismatched (prompt, completion) pairs,
    clamped at 0 and detached (the reference point is not trained through)."""
    return (kl_policy_logps - kl_ref_logps).mean().clamp(min=0).detach()


def kto_loss(
    policy_logps: Tensor,
    ref_logps: Tensor,
    labels: Tensor,
    z0: Tensor | float,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> Tensor:
    """KTO (Ethayarajh et al. 2024, eq. 7, TRL form), per row in input order.

    desirable (label True): w_d * (1 - sigmoid(beta * (logratio - z0)));
    undesirable:           w_u * (1 - sigmoid(beta * (z0 - logratio))).
    The batch loss is the mean over rows.
    """
    labels = labels.to(torch.bool)
    logratio = policy_logps - ref_logps
    z0 = torch.as_tensor(z0, dtype=logratio.dtype, device=logratio.device)
    desirable = desirable_weight * (1 - torch.sigmoid(beta * (logratio - z0)))
    undesirable = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - logratio)))
    return torch.where(labels, desirable, undesirable)


def sequence_logps(logits: Tensor, input_ids: Tensor, completion_mask: Tensor, average: bool = False) -> Tensor:
    """Summed (or mean) log-probability of the completion tokens of each sequence.

    ``logits`` (B, T, V) from a causal LM on ``input_ids`` (B, T); token t is predicted at t-1.
    ``completion_mask`` (B, T) marks completion tokens (1), not prompt or padding (0).
    """
    logprobs = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
    targets = input_ids[:, 1:]
    mask = completion_mask[:, 1:].to(logprobs.dtype)
    token = torch.gather(logprobs, 2, targets.unsqueeze(-1)).squeeze(-1) * mask
    total = token.sum(dim=1)
    return total / mask.sum(dim=1).clamp(min=1.0) if average else total


def implicit_rewards(policy_logps: Tensor, ref_logps: Tensor, beta: float) -> Tensor:
    """DPO's implicit reward beta * (log pi - log ref): what the trainers log as rewards/*."""
    return beta * (policy_logps - ref_logps)


def reward_accuracy(chosen_rewards: Tensor, rejected_rewards: Tensor) -> float:
    """Share of pairs whose chosen reward is strictly higher (TRL's rewards/accuracies)."""
    if chosen_rewards.numel() == 0:
        return float("nan")
    return (chosen_rewards > rejected_rewards).float().mean().item()
