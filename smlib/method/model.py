"""Stacked LSTM with the Physics Constraint Layer (paper section 3.1.2, Fig. 2).

Architecture (sizes from :class:`smlib.config.ModelConfig`; the paper's in brackets)::

    x [batch, window, feature]
      -> LSTM(hidden) [256] -> dropout [0.1] -> LSTM(hidden) -> dropout -> LSTM(hidden)
      -> last time step [batch, hidden]
      -> Dense [128] + ReLU -> Dense [64] + ReLU -> Dense 1 (linear)     normalised HF
      -> Physics Constraint Layer (needs the SM LF of the target hour)   normalised HF

The Physics Constraint Layer (:class:`PhysicsConstraint`) is part of the graph, so the loss is
computed on its output and the network is penalised whenever it would reconstruct negative SM:

.. math::

    \\mathrm{HF} = \\hat y\\,(y_\\max - y_\\min) + y_\\min,\\quad
    \\mathrm{SM} = \\max(\\mathrm{HF} + \\mathrm{LF},\\,0),\\quad
    y = \\frac{\\mathrm{SM} - \\mathrm{LF} - y_\\min}{y_\\max - y_\\min}

with :math:`y_\\min, y_\\max` the min-max parameters of the training target (buffers saved
with the weights).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from smlib.config import ModelConfig

__all__ = [
    "PhysicsConstraint",
    "StackedLSTM",
    "GRUStudent",
    "TCNStudent",
    "MODELS",
    "build_model",
    "lstm_flops_per_sample",
]


class PhysicsConstraint(nn.Module):
    """Denormalise, add LF, ReLU, subtract LF, renormalise (five steps of the paper).

    Parameters
    ----------
    y_min, y_max : float
        Min-max parameters of the SM HF target (m3 m-3).
    """

    def __init__(self, y_min: float = 0.0, y_max: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("y_min", torch.tensor(float(y_min)))
        self.register_buffer("y_max", torch.tensor(float(y_max)))

    def forward(self, y_norm: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
        """Constrain a normalised HF prediction.

        Parameters
        ----------
        y_norm : torch.Tensor, shape [batch]
            Normalised SM HF.
        lf : torch.Tensor, shape [batch]
            SM LF of the target hour, m3 m-3.

        Returns
        -------
        torch.Tensor, shape [batch]
            Normalised HF whose reconstruction ``LF + HF`` is non-negative.
        """
        span = self.y_max - self.y_min
        hf = y_norm * span + self.y_min
        sm = torch.relu(hf + lf)
        return (sm - lf - self.y_min) / span


class StackedLSTM(nn.Module):
    """Stacked LSTM regressor of normalised SM HF.

    Parameters
    ----------
    n_features : int
        Input features per hour.
    hidden_size : int
        Units per LSTM layer (paper: 256).
    num_layers : int
        LSTM layers (paper: 3). Dropout acts between layers only, i.e. after layers 1 and 2.
    dropout : float
        Dropout rate between LSTM layers (paper: 0.1).
    dense : tuple of int
        Hidden dense layers with ReLU (paper: 128, 64).
    physics_constraint : bool
        Include the Physics Constraint Layer (paper: yes; off only for ablations).
    y_min, y_max : float
        Target min-max parameters used by the constraint.
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int = 256,
        num_layers: int = 3,
        dropout: float = 0.1,
        dense: tuple[int, ...] = (128, 64),
        physics_constraint: bool = True,
        y_min: float = 0.0,
        y_max: float = 1.0,
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            n_features, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )  # fmt: skip
        layers: list[nn.Module] = []
        width = hidden_size
        for units in dense:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)
        self.constraint = PhysicsConstraint(y_min, y_max) if physics_constraint else None

    def forward(self, x: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
        """Predict the normalised SM HF of the last hour of each window.

        Parameters
        ----------
        x : torch.Tensor, shape [batch, window, n_features]
            Min-max scaled features, hours ``t-window+1 .. t``.
        lf : torch.Tensor, shape [batch]
            SM LF at hour ``t`` in m3 m-3 (unscaled), used by the constraint.

        Returns
        -------
        torch.Tensor, shape [batch]
            Normalised SM HF at hour ``t``.
        """
        out, _ = self.lstm(x)
        # under bf16 autocast (TrainConfig.precision) the network runs in bfloat16, but the
        # constraint adds LF (~0.3 m3 m-3) to HF (~0.01): that sum needs fp32 resolution
        y = self.head(out[:, -1, :]).squeeze(-1).float()
        if self.constraint is not None:
            with torch.autocast(device_type=y.device.type, enabled=False):
                y = self.constraint(y, lf.float())
        return y


def _dense_head(width: int, dense: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for units in dense:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _constrained(
    y: torch.Tensor, lf: torch.Tensor, constraint: PhysicsConstraint | None
) -> torch.Tensor:
    y = y.float()
    if constraint is not None:
        with torch.autocast(device_type=y.device.type, enabled=False):
            y = constraint(y, lf.float())
    return y


class GRUStudent(nn.Module):
    """Small GRU regressor: the operational student distilled from the stacked LSTM.

    ``x [batch, window, feature] -> GRU(hidden) x num_layers -> last step -> dense -> 1 ->
    Physics Constraint Layer``. With ``hidden_size=32, num_layers=1, dense=(32,)`` one 18-h
    window costs about 0.16 MFLOP, some 300 times fewer than the paper's 3 x 256 LSTM.
    Parameters as :class:`StackedLSTM`.
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        dense: tuple[int, ...] = (32,),
        physics_constraint: bool = True,
        y_min: float = 0.0,
        y_max: float = 1.0,
    ) -> None:
        super().__init__()
        self.gru = nn.GRU(
            n_features, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )  # fmt: skip
        self.head = _dense_head(hidden_size, tuple(dense))
        self.constraint = PhysicsConstraint(y_min, y_max) if physics_constraint else None

    def forward(self, x: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
        """``x [batch, window, feature]``, ``lf [batch]`` -> normalised HF ``[batch]``."""
        out, _ = self.gru(x)
        return _constrained(self.head(out[:, -1, :]).squeeze(-1), lf, self.constraint)


class TCNStudent(nn.Module):
    """Temporal convolution student: dilated 1-D convolutions over the window, no recurrence.

    ``num_layers`` convolutions of kernel 3 with dilations ``1, 2, 4, ...`` (receptive field
    ``1 + 2 (2^L - 1)`` hours: 31 h for ``L = 4``, enough for an 18-h window), ReLU between
    them, ``hidden_size`` channels, then the last time step through the dense head and the
    Physics Constraint Layer. Convolutions vectorise over time as well as over the batch,
    which is what makes this the fastest student on CPUs. Parameters as :class:`StackedLSTM`
    (``dropout`` acts after each convolution).
    """

    def __init__(
        self,
        n_features: int,
        hidden_size: int = 32,
        num_layers: int = 4,
        dropout: float = 0.0,
        dense: tuple[int, ...] = (32,),
        physics_constraint: bool = True,
        y_min: float = 0.0,
        y_max: float = 1.0,
    ) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        width = n_features
        for i in range(num_layers):
            convs += [nn.Conv1d(width, hidden_size, kernel_size=3, dilation=2**i), nn.ReLU()]
            if dropout > 0:
                convs.append(nn.Dropout(dropout))
            width = hidden_size
        self.convs = nn.Sequential(*convs)
        self.pad = 2 * (2**num_layers - 1)
        self.head = _dense_head(hidden_size, tuple(dense))
        self.constraint = PhysicsConstraint(y_min, y_max) if physics_constraint else None

    def forward(self, x: torch.Tensor, lf: torch.Tensor) -> torch.Tensor:
        """``x [batch, window, feature]``, ``lf [batch]`` -> normalised HF ``[batch]``."""
        z = nn.functional.pad(x.transpose(1, 2), (self.pad, 0))  # causal: left padding only
        z = self.convs(z)
        return _constrained(self.head(z[:, :, -1]).squeeze(-1), lf, self.constraint)


#: Model name -> class; ``ModelConfig.name`` selects the entry.
MODELS: dict[str, Callable[..., nn.Module]] = {
    "stacked_lstm": StackedLSTM,
    "gru_student": GRUStudent,
    "tcn_student": TCNStudent,
}


def build_model(
    cfg: ModelConfig, n_features: int, y_min: float = 0.0, y_max: float = 1.0
) -> nn.Module:
    """Instantiate ``MODELS[cfg.name]`` with sizes from ``cfg``."""
    if cfg.name not in MODELS:
        raise KeyError(f"unknown model {cfg.name!r}; registered: {sorted(MODELS)}")
    return MODELS[cfg.name](
        n_features,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
        dense=tuple(cfg.dense),
        physics_constraint=cfg.physics_constraint,
        y_min=y_min,
        y_max=y_max,
    )


def lstm_flops_per_sample(cfg: ModelConfig, n_features: int, window: int, training: bool) -> float:
    """Multiply-add FLOPs (2 per MAC) of one sample through the network.

    Per LSTM layer and time step the four gates cost :math:`2\\cdot 4H(I+H)` FLOPs; the dense
    head is counted once. Training is counted as 3x the forward pass (forward + two backward
    matrix products), the usual estimate.
    """
    h = cfg.hidden_size
    flops = 0.0
    width_in = n_features
    for _ in range(cfg.num_layers):
        flops += window * 2 * 4 * h * (width_in + h)
        width_in = h
    width = h
    for units in (*cfg.dense, 1):
        flops += 2 * width * units
        width = units
    return 3 * flops if training else flops
