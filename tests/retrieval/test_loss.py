"""Tests for retrieval.loss (symmetric multi-positive NT-Xent)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from retrieval.loss import ContrastiveLoss, nt_xent, positives_from_ids


def _ce_by_hand(logits: list[float], targets: list[float]) -> float:
    """Soft-label cross-entropy -sum_j t_j log softmax(z)_j with math.exp/log only."""
    log_z = math.log(sum(math.exp(z) for z in logits))
    return -sum(t * (z - log_z) for z, t in zip(logits, targets))


def naive_loss(sim: torch.Tensor, pos: torch.Tensor, tau: float) -> float:
    """Python-loop reference of the symmetric multi-positive NT-Xent."""
    s = sim.double().tolist()
    p = pos.tolist()
    n_q, n_i = len(s), len(s[0])
    rows, cols = [], []
    for q in range(n_q):
        k = sum(p[q])
        if k:
            rows.append(_ce_by_hand([x / tau for x in s[q]], [float(v) / k for v in p[q]]))
    for i in range(n_i):
        col = [s[q][i] / tau for q in range(n_q)]
        tgt = [float(p[q][i]) for q in range(n_q)]
        k = sum(tgt)
        if k:
            cols.append(_ce_by_hand(col, [t / k for t in tgt]))
    return 0.5 * (sum(rows) / len(rows) + sum(cols) / len(cols))


def test_hand_computed_2x2():
    sim = torch.tensor([[0.8, 0.2], [0.1, 0.6]], dtype=torch.float64)
    tau = 0.5
    # rows: z = [1.6, 0.4] target 0; z = [0.2, 1.2] target 1
    row0 = -(1.6 - math.log(math.exp(1.6) + math.exp(0.4)))
    row1 = -(1.2 - math.log(math.exp(0.2) + math.exp(1.2)))
    # columns: z = [1.6, 0.2] target 0; z = [0.4, 1.2] target 1
    col0 = -(1.6 - math.log(math.exp(1.6) + math.exp(0.2)))
    col1 = -(1.2 - math.log(math.exp(0.4) + math.exp(1.2)))
    expected = 0.5 * ((row0 + row1) / 2 + (col0 + col1) / 2)
    got = nt_xent(sim, torch.eye(2, dtype=torch.bool), tau)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    # closed form for 2 logits: CE = log(1 + exp(z_neg - z_pos)); margins 1.2, 1.0 (rows), 1.4, 0.8 (columns)
    closed = sum(math.log1p(math.exp(-m)) for m in (1.2, 1.0, 1.4, 0.8)) / 4
    assert got.item() == pytest.approx(closed, rel=1e-12)
    assert got.item() == pytest.approx(0.2920156, abs=1e-7)


def test_hand_computed_3x3_identity():
    sim = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.9, -0.3], [0.4, 0.4, 0.7]], dtype=torch.float64)
    tau = 0.1
    z = [[v / tau for v in row] for row in sim.tolist()]

    def ce(values, target):
        return -(values[target] - math.log(sum(math.exp(v) for v in values)))

    rows = [ce(z[i], i) for i in range(3)]
    cols = [ce([z[q][i] for q in range(3)], i) for i in range(3)]
    expected = (sum(rows) + sum(cols)) / (2 * 3)
    assert nt_xent(sim, torch.eye(3, dtype=torch.bool), tau).item() == pytest.approx(expected, rel=1e-12)


def test_hand_computed_3x3_multi_positive():
    # captions 0 and 1 describe recording 0, caption 2 describes recording 1; recording 2 has no caption
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.7, 0.3, 0.2], [0.2, 0.8, 0.1]], dtype=torch.float64)
    pos = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.bool)
    tau = 1.0
    e = math.exp
    rows = [
        -(0.9 - math.log(e(0.9) + e(0.1) + e(0.0))),
        -(0.7 - math.log(e(0.7) + e(0.3) + e(0.2))),
        -(0.8 - math.log(e(0.2) + e(0.8) + e(0.1))),
    ]
    lse0 = math.log(e(0.9) + e(0.7) + e(0.2))
    col0 = -0.5 * ((0.9 - lse0) + (0.7 - lse0))  # two positives, uniform target 1/2
    col1 = -(0.8 - math.log(e(0.1) + e(0.3) + e(0.8)))
    expected = 0.5 * (sum(rows) / 3 + (col0 + col1) / 2)  # column 2 has no positive: ignored
    assert nt_xent(sim, pos, tau).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed,n", [(0, 2), (1, 5), (2, 16)])
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
def test_identity_equals_cross_entropy_formulation(seed, n, tau):
    g = torch.Generator().manual_seed(seed)
    sim = torch.rand(n, n, generator=g, dtype=torch.float64) * 2 - 1
    target = torch.arange(n)
    expected = 0.5 * (F.cross_entropy(sim / tau, target) + F.cross_entropy(sim.t() / tau, target))
    got = nt_xent(sim, torch.eye(n, dtype=torch.bool), tau)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(ContrastiveLoss(tau).double()(sim, torch.eye(n, dtype=torch.bool)), expected)


@pytest.mark.parametrize("seed,n_q,n_i", [(0, 6, 3), (1, 10, 4), (2, 7, 7), (3, 5, 9)])
def test_multi_positive_against_naive_loop(seed, n_q, n_i):
    g = torch.Generator().manual_seed(seed)
    sim = torch.randn(n_q, n_i, generator=g, dtype=torch.float64)
    rec = torch.randint(0, n_i + 2, (n_q,), generator=g)  # some captions match no item in the batch
    rec[0] = 0  # at least one positive
    pos = positives_from_ids(rec, torch.arange(n_i))
    for tau in (0.07, 0.5):
        got = nt_xent(sim, pos, tau).item()
        assert got == pytest.approx(naive_loss(sim, pos, tau), rel=1e-10)


def test_soft_label_cross_entropy_equivalence():
    # soft targets in torch's cross_entropy give the same value for a multi-positive mask
    g = torch.Generator().manual_seed(3)
    sim = torch.randn(6, 4, generator=g, dtype=torch.float64)
    pos = positives_from_ids([0, 0, 1, 2, 3, 3], [0, 1, 2, 3])
    rows = pos.double() / pos.double().sum(1, keepdim=True)
    cols = pos.t().double() / pos.t().double().sum(1, keepdim=True)
    expected = 0.5 * (F.cross_entropy(sim / 0.2, rows) + F.cross_entropy(sim.t() / 0.2, cols))
    torch.testing.assert_close(nt_xent(sim, pos, 0.2), expected)


def test_gradient_step_lowers_loss_and_raises_positives():
    g = torch.Generator().manual_seed(0)
    n = 6
    sim = torch.nn.Parameter(torch.rand(n, n, generator=g) * 0.2)
    pos = torch.eye(n, dtype=torch.bool)
    loss_fn = ContrastiveLoss(temperature=0.1)
    loss = loss_fn(sim, pos)
    loss.backward()
    assert torch.isfinite(sim.grad).all()
    assert (sim.grad.diagonal() < 0).all()  # descent increases positive similarities
    assert (sim.grad[~pos] > 0).all()  # and decreases negatives
    before = sim.detach().clone()
    with torch.no_grad():
        sim -= 0.01 * sim.grad
    assert (sim.detach().diagonal() > before.diagonal()).all()
    assert loss_fn(sim, pos).item() < loss.item()


def test_gradients_finite_with_extreme_inputs():
    sim = torch.tensor([[1.0, -1.0, float("-inf")], [1.0, 1.0, 0.0]], requires_grad=True)
    pos = torch.tensor([[1, 0, 0], [0, 1, 0]], dtype=torch.bool)
    loss = nt_xent(sim, pos, 0.001)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(sim.grad).all()


def test_learnable_temperature_gets_gradient():
    loss_fn = ContrastiveLoss(temperature=0.07, learn_temperature=True)
    params = list(loss_fn.parameters())
    assert len(params) == 1
    assert loss_fn.temperature == pytest.approx(0.07, rel=1e-6)
    g = torch.Generator().manual_seed(1)
    sim = torch.rand(4, 4, generator=g)
    loss_fn(sim, torch.eye(4, dtype=torch.bool)).backward()
    grad = loss_fn.log_inv_temperature.grad
    assert grad is not None and torch.isfinite(grad) and grad.item() != 0.0
    # as state: log(1/tau) is saved
    assert "log_inv_temperature" in loss_fn.state_dict()


def test_fixed_temperature_has_no_parameters():
    loss_fn = ContrastiveLoss(temperature=0.05)
    assert list(loss_fn.parameters()) == []
    assert loss_fn.temperature == pytest.approx(0.05)
    assert "log_inv_temperature" in loss_fn.state_dict()


def test_learnable_temperature_is_clamped():
    loss_fn = ContrastiveLoss(temperature=0.01, learn_temperature=True)
    with torch.no_grad():
        loss_fn.log_inv_temperature.fill_(math.log(1e6))  # tau = 1e-6 requested
    assert loss_fn.temperature == pytest.approx(0.001)
    sim = torch.rand(3, 3, dtype=torch.float32)
    pos = torch.eye(3, dtype=torch.bool)
    assert loss_fn(sim, pos).item() == pytest.approx(nt_xent(sim, pos, 0.001).item(), rel=1e-5)


def test_tensor_temperature_gets_gradient():
    tau = torch.tensor(0.2, requires_grad=True)
    sim = torch.rand(3, 3, generator=torch.Generator().manual_seed(0))
    nt_xent(sim, torch.eye(3, dtype=torch.bool), tau).backward()
    assert tau.grad is not None and torch.isfinite(tau.grad)


def test_positives_from_ids():
    pos = positives_from_ids(["a.wav", "a.wav", "b.wav"], ["a.wav", "b.wav", "c.wav"])
    assert pos.dtype == torch.bool
    assert pos.tolist() == [[True, False, False], [True, False, False], [False, True, False]]
    t = positives_from_ids(torch.tensor([3, 1, 3]), torch.tensor([1, 3]))
    assert t.tolist() == [[False, True], [True, False], [False, True]]
    mixed = positives_from_ids(torch.tensor([3, 1]), [1, 3])
    assert mixed.tolist() == [[False, True], [True, False]]
    with pytest.raises(ValueError):
        positives_from_ids(torch.zeros(2, 2), torch.zeros(2))


def test_invalid_inputs_raise():
    sim = torch.rand(3, 4)
    with pytest.raises(ValueError, match="shape"):
        nt_xent(sim, torch.ones(4, 3, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match=r"\[Q, I\]"):
        nt_xent(torch.rand(3), torch.ones(3, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match=r"\[Q, I\]"):
        nt_xent(torch.rand(2, 2, 2), torch.ones(2, 2, 2, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match="no query has a positive"):
        nt_xent(sim, torch.zeros(3, 4, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(sim, torch.ones(3, 4, dtype=torch.bool), 0.0)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(sim, torch.ones(3, 4, dtype=torch.bool), torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="bool"):
        nt_xent(sim, torch.ones(3, 4), 0.1)
    with pytest.raises(ValueError, match="floating"):
        nt_xent(torch.ones(3, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match="temperature"):
        ContrastiveLoss(temperature=0.0001)
    # an integer 0/1 mask is accepted
    torch.testing.assert_close(nt_xent(sim, torch.eye(3, 4, dtype=torch.long), 0.1),
                               nt_xent(sim, torch.eye(3, 4, dtype=torch.bool), 0.1))
