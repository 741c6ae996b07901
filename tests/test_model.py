"""Stacked LSTM and the Physics Constraint Layer."""

from __future__ import annotations

import pytest
import torch

from smlib.config import ModelConfig
from smlib.method.model import (
    MODELS,
    PhysicsConstraint,
    StackedLSTM,
    build_model,
    lstm_flops_per_sample,
)

torch.set_num_threads(1)


def test_shapes_and_paper_layout():
    model = build_model(ModelConfig(), n_features=14, y_min=-0.02, y_max=0.03)
    x = torch.rand(5, 18, 14)
    y = model(x, torch.full((5,), 0.2))
    assert y.shape == (5,)
    assert (
        model.lstm.hidden_size == 256 and model.lstm.num_layers == 3 and model.lstm.dropout == 0.1
    )
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [128, 64, 1]
    assert isinstance(MODELS["stacked_lstm"](3), StackedLSTM)
    with pytest.raises(KeyError, match="unknown model"):
        build_model(ModelConfig(name="transformer"), 14)


def test_constraint_never_reconstructs_negative_sm():
    y_min, y_max = -0.05, 0.05
    pcl = PhysicsConstraint(y_min, y_max)
    y_norm = torch.linspace(-3, 3, 101)
    lf = torch.full((101,), 0.02)
    out = pcl(y_norm, lf)
    sm = out * (y_max - y_min) + y_min + lf
    assert float(sm.min()) >= -1e-7
    # where the reconstruction is positive the constraint is the identity
    hf = y_norm * (y_max - y_min) + y_min
    keep = hf + lf > 0
    torch.testing.assert_close(out[keep], y_norm[keep])


def test_gradients_flow_through_the_constraint():
    torch.manual_seed(0)
    model = StackedLSTM(4, hidden_size=8, num_layers=3, dense=(8, 4), y_min=-0.05, y_max=0.05)
    x = torch.rand(16, 18, 4)
    lf = torch.full((16,), 0.2)  # reconstruction positive: gradient reaches every layer
    loss = (model(x, lf) - 0.3).pow(2).mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.lstm.weight_ih_l0.grad.abs().sum() > 0
    # a prediction clipped by the ReLU gets zero gradient: the loss penalises it as SM = 0
    pcl = PhysicsConstraint(-0.05, 0.05)
    y = torch.tensor([0.0, 0.9], requires_grad=True)
    pcl(y, torch.tensor([0.01, 0.01])).sum().backward()
    assert y.grad.tolist()[0] == 0.0 and y.grad.tolist()[1] == pytest.approx(1.0)


def test_dropout_only_between_lstm_layers():
    model = StackedLSTM(3, hidden_size=8, num_layers=3, dropout=0.5, dense=(4,))
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.head)
    model.eval()
    x = torch.rand(2, 18, 3)
    torch.testing.assert_close(model(x, torch.ones(2)), model(x, torch.ones(2)))


def test_flop_count_matches_formula():
    cfg = ModelConfig()
    f = lstm_flops_per_sample(cfg, 14, 18, training=False)
    lstm = 18 * 2 * 4 * 256 * ((14 + 256) + 2 * (256 + 256))
    assert f == lstm + 2 * (256 * 128 + 128 * 64 + 64)
    assert lstm_flops_per_sample(cfg, 14, 18, training=True) == 3 * f


def test_constraint_runs_in_fp32_under_bf16_autocast():
    """LF + HF needs fp32: under autocast the output is float32 and never reconstructs SM < 0."""
    torch.manual_seed(0)
    y_min, y_max = -0.05, 0.05
    model = build_model(ModelConfig(hidden_size=8, dense=(8, 4)), 3, y_min, y_max)
    x = torch.rand(256, 18, 3)
    lf = torch.rand(256) * 0.02  # dry soil: the constraint is active for many samples
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x, lf)
    assert y.dtype == torch.float32
    sm = y * (y_max - y_min) + y_min + lf
    assert sm.min() >= -1e-7
