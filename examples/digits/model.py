"""The digits classifier: a small convolutional network for scikit-learn's 8x8 digit images.

Kept in its own module, as the original tutorials did, so that a model server can import the
class without the training script.
"""

from __future__ import annotations

import torch
from torch import nn


class DigitsNet(nn.Module):
    """Two 3x3 convolutions and a linear head over 1x8x8 inputs scaled to [0, 1]."""

    def __init__(self, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(hidden * 4 * 4, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
