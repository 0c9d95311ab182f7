"""Per-pair preference losses: hand-computed values, and agreement with TRL 1.16's own loss code.

TRL has no free loss functions: DPO/IPO/hinge and KTO are computed inside the trainers'
``_compute_loss`` methods, CPO in ``CPOTrainer.cpo_loss``. The comparisons call those methods
unbound on a minimal stand-in object (precomputed reference log-probs, a fake model that returns
hand-made per-token log-probabilities), so TRL's real arithmetic runs without a model. No trainer
is constructed, so nothing is downloaded and no telemetry is sent.
"""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from factgap.preference import losses as L


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# policy chosen -5, rejected -3; reference chosen -3, rejected -3: h = (-5 + 3) - (-3 + 3) = -2
PC, PR, RC, RR = t(-5.0), t(-3.0), t(-3.0), t(-3.0)


def test_dpo_by_hand():
    # -logsigmoid(0.1 * -2) = log(1 + e^0.2) = 0.7981388693815918
    assert L.dpo_loss(PC, PR, RC, RR, beta=0.1).item() == pytest.approx(0.7981388693815918, abs=1e-12)
    # h = 0: log 2
    assert L.dpo_loss(t(-1.0), t(-1.0), t(-2.0), t(-2.0), beta=0.5).item() == pytest.approx(math.log(2))


def test_ipo_by_hand_summed_and_length_normalised():
    # summed: (h - 1/(2*0.1))^2 = (-2 - 5)^2 = 49
    assert L.ipo_loss(PC, PR, RC, RR, beta=0.1).item() == pytest.approx(49.0)
    # TRL's form: chosen log-ratio -2 over 2 tokens = -1, rejected 0 over 1 token: (-1 - 5)^2 = 36
    got = L.ipo_loss(PC, PR, RC, RR, beta=0.1, chosen_lengths=t(2.0), rejected_lengths=t(1.0))
    assert got.item() == pytest.approx(36.0)


def test_hinge_by_hand():
    assert L.hinge_loss(PC, PR, RC, RR, beta=0.1).item() == pytest.approx(1.2)  # relu(1 - 0.1 * -2)
    assert L.hinge_loss(t(0.0), t(-20.0), t(0.0), t(0.0), beta=0.1).item() == 0.0  # relu(1 - 2)
    assert L.hinge_loss(t(0.0), t(-5.0), t(0.0), t(0.0), beta=0.1).item() == pytest.approx(0.5)


def test_cpo_by_hand():
    # -logsigmoid(0.1 * (-2 - -4)) = log(1 + e^-0.2) = 0.5981388693815918; NLL of chosen: 2 nats / 2 tokens
    pc, pr = t(-2.0), t(-4.0)
    assert L.cpo_loss(pc, pr, beta=0.1, alpha=0.0).item() == pytest.approx(0.5981388693815918)
    assert L.cpo_loss(pc, pr, beta=0.1, alpha=1.0, chosen_lengths=t(2.0)).item() == pytest.approx(1.5981388693815918)
    assert L.cpo_loss(pc, pr, beta=0.1, alpha=0.5, chosen_nll=t(3.0)).item() == pytest.approx(0.5981388693815918 + 1.5)
    with pytest.raises(ValueError):
        L.cpo_loss(pc, pr, beta=0.1, alpha=1.0)


def test_kto_by_hand():
    # row 0 desirable, log-ratio -1 - -1.5 = 0.5; row 1 undesirable, log-ratio -2 - -1 = -1; z0 = 0.2, beta = 1
    got = L.kto_loss(
        t(-1.0, -2.0),
        t(-1.5, -1.0),
        torch.tensor([True, False]),
        z0=0.2,
        beta=1.0,
        desirable_weight=2.0,
        undesirable_weight=0.5,
    )
    # 2 * (1 - sigmoid(0.5 - 0.2)) and 0.5 * (1 - sigmoid(0.2 - -1))
    assert got.tolist() == pytest.approx([2 * (1 - sigmoid(0.3)), 0.5 * (1 - sigmoid(1.2))])
    assert got.tolist() == pytest.approx([0.8511149663766819, 0.11573760825049123])


def test_kto_reference_point_is_clamped_mean():
    assert L.kto_reference_point(t(-1.0, -2.0), t(-1.3, -1.9)).item() == pytest.approx(0.1)  # mean(0.3, -0.1)
    assert L.kto_reference_point(t(-3.0), t(-1.0)).item() == 0.0


def test_sequence_logps_counts_completion_tokens_only():
    # vocabulary of 3; logits chosen so that log-probs are easy: uniform -> log(1/3) per token
    logits = torch.zeros(1, 4, 3)
    ids = torch.tensor([[0, 1, 2, 1]])
    mask = torch.tensor([[0, 0, 1, 1]])  # the last two tokens are the completion
    assert L.sequence_logps(logits, ids, mask).item() == pytest.approx(2 * math.log(1 / 3))
    assert L.sequence_logps(logits, ids, mask, average=True).item() == pytest.approx(math.log(1 / 3))
    # a confident prediction of token 2 at position 1 (predicting position 2)
    logits[0, 1] = torch.tensor([0.0, 0.0, math.log(8.0)])  # p(2) = 8 / 10
    assert L.sequence_logps(logits, ids, mask).item() == pytest.approx(math.log(0.8) + math.log(1 / 3))


def test_implicit_rewards_and_accuracy():
    chosen = L.implicit_rewards(t(-1.0, -2.0, -3.0), t(-1.5, -2.0, -2.0), beta=0.1)
    rejected = L.implicit_rewards(t(-1.0, -1.0, -3.0), t(-1.0, -1.0, -4.0), beta=0.1)
    assert chosen.tolist() == pytest.approx([0.05, 0.0, -0.1])
    assert L.reward_accuracy(chosen, rejected) == pytest.approx(1 / 3)  # ties do not count
    assert math.isnan(L.reward_accuracy(t(), t()))


# --- agreement with TRL's own loss code -------------------------------------------------------

ACCELERATOR = SimpleNamespace(device=torch.device("cpu"), gather=lambda x: x, gather_for_metrics=lambda x: x)


class FakeLM:
    """Stands in for TRL's fused-LM-head forward: returns the given per-token log-probabilities."""

    def __init__(self, per_token):
        self.per_token = per_token

    def __call__(self, **kwargs):
        zeros = torch.zeros_like(self.per_token)
        return SimpleNamespace(
            log_probs=self.per_token,
            entropy=zeros,
            mean_logits=zeros,
            is_top1=torch.zeros_like(self.per_token, dtype=torch.bool),
        )


# Two pairs after a 2-token prompt: chosen completions of 2 and 3 tokens, rejected of 1 and 2
MASK = torch.tensor([[0, 0, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0]])
TOKENS = torch.tensor(
    [[-1.0, -2.0, -3.0, -4.0], [-0.5, -1.0, -1.5, -2.0], [-2.0, -3.0, -4.0, -5.0], [-1.0, -1.0, -1.0, -1.0]]
)
PER_TOKEN = TOKENS * MASK[:, 1:]  # the fused head gives 0 at masked labels
REF_CHOSEN, REF_REJECTED = torch.tensor([-3.0, -5.0]), torch.tensor([-3.0, -2.0])


def trl_dpo_loss(loss_type: str, beta: float) -> float:
    from trl import DPOTrainer

    fake = SimpleNamespace(
        model=SimpleNamespace(training=True),
        accelerator=ACCELERATOR,
        aux_loss_enabled=False,
        precompute_ref_logps=True,
        ld_alpha=None,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        use_weighting=False,
        _metrics={"train": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
        args=SimpleNamespace(),
    )
    inputs = {
        "input_ids": torch.zeros(4, 5, dtype=torch.long),
        "attention_mask": torch.ones(4, 5, dtype=torch.long),
        "completion_mask": MASK,
        "ref_chosen_logps": REF_CHOSEN,
        "ref_rejected_logps": REF_REJECTED,
    }
    return DPOTrainer._compute_loss(fake, FakeLM(PER_TOKEN), inputs, False).item()


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
def test_dpo_family_matches_trl(loss_type):
    beta = 0.1
    logps = PER_TOKEN.sum(1)
    pc, pr = logps[:2], logps[2:]
    lengths = MASK.sum(1).float()
    if loss_type == "sigmoid":
        ours = L.dpo_loss(pc, pr, REF_CHOSEN, REF_REJECTED, beta)
    elif loss_type == "ipo":
        ours = L.ipo_loss(
            pc, pr, REF_CHOSEN, REF_REJECTED, beta, chosen_lengths=lengths[:2], rejected_lengths=lengths[2:]
        )
    else:
        ours = L.hinge_loss(pc, pr, REF_CHOSEN, REF_REJECTED, beta)
    assert ours.mean().item() == pytest.approx(trl_dpo_loss(loss_type, beta), rel=1e-6)


def test_ipo_without_lengths_differs_from_trl():
    """TRL's IPO is length-normalised: the summed form gives another number here."""
    logps = PER_TOKEN.sum(1)
    summed = L.ipo_loss(logps[:2], logps[2:], REF_CHOSEN, REF_REJECTED, 0.1).mean().item()
    assert summed != pytest.approx(trl_dpo_loss("ipo", 0.1), rel=1e-3)


def test_kto_matches_trl():
    from trl import KTOTrainer

    beta, w_d, w_u = 0.5, 1.5, 0.7
    labels = torch.tensor([True, False, True, False])
    ref_logps = torch.tensor([-6.0, -3.0, -3.0, -2.5])
    kl_policy, kl_ref = torch.tensor([-4.0, -6.0, -5.0, -3.0]), torch.tensor([-4.5, -5.0, -5.5, -3.2])
    fake = SimpleNamespace(
        model=SimpleNamespace(training=True),
        accelerator=ACCELERATOR,
        aux_loss_enabled=False,
        precompute_ref_logps=True,
        calculate_KL=True,
        loss_type="kto",
        beta=beta,
        desirable_weight=w_d,
        undesirable_weight=w_u,
        _metrics={"train": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
        _compute_kl_logps=lambda model, batch: kl_policy,
    )
    inputs = {
        "input_ids": torch.zeros(4, 5, dtype=torch.long),
        "attention_mask": torch.ones(4, 5, dtype=torch.long),
        "completion_mask": MASK,
        "label": labels,
        "ref_logps": ref_logps,
        "ref_KL_logps": kl_ref,
    }
    theirs = KTOTrainer._compute_loss(fake, FakeLM(PER_TOKEN), inputs, False).item()
    z0 = L.kto_reference_point(kl_policy, kl_ref)
    assert z0.item() == pytest.approx(0.05)  # (0.5 - 1.0 + 0.5 + 0.2) / 4
    ours = L.kto_loss(PER_TOKEN.sum(1), ref_logps, labels, z0, beta, w_d, w_u).mean().item()
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_cpo_preference_term_matches_trl_and_nll_is_added_by_hand():
    from trl.experimental.cpo import CPOTrainer

    pc, pr = torch.tensor([-5.0, -4.5]), torch.tensor([-3.0, -2.0])
    fake = SimpleNamespace(alpha=0.0, accelerator=ACCELERATOR, loss_type="sigmoid", beta=0.2, label_smoothing=0.0)
    theirs, _, _ = CPOTrainer.cpo_loss(fake, pc, pr)
    assert L.cpo_loss(pc, pr, beta=0.2, alpha=0.0).tolist() == pytest.approx(theirs.tolist(), rel=1e-6)
    # CPOTrainer adds cpo_alpha * (token-mean NLL over all chosen tokens of the batch); equal lengths here
    lengths = torch.tensor([2.0, 2.0])
    batch_nll = -pc.sum() / lengths.sum()
    ours = L.cpo_loss(pc, pr, beta=0.2, alpha=1.0, chosen_lengths=lengths).mean()
    assert ours.item() == pytest.approx((theirs.mean() + batch_nll).item(), rel=1e-6)
