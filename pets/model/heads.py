"""Classifier heads: one Linear layer on the pooled features (this project's), or fastai's `create_head`."""

import torch
from torch import nn


class FastaiHead(nn.Module):
    """fastai's `create_head`: max and average pooling concatenated, BatchNorm, dropout, Linear, ReLU, BatchNorm,
    dropout, Linear."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.max, self.avg = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.BatchNorm1d(2 * n_features),
            nn.Dropout(0.25),
            nn.Linear(2 * n_features, 512, bias=False),
            nn.ReLU(),
            nn.BatchNorm1d(512),
            nn.Dropout(0.5),
            nn.Linear(512, n_classes, bias=False),
        )

    def forward(self, features):
        return self.layers(torch.cat([self.max(features), self.avg(features)], 1))
