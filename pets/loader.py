"""Batches of uint8 pixels straight from the memory-mapped cache.

A batch is one fancy-indexed read of the array (rows sorted, so the reads are sequential), done in
loader worker processes; augmentation and normalisation happen later, on the training device.
"""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pets.cache import read_manifest


class CachedSplit(Dataset):
    """One split of the cache; item `indices` (a list of rows) is a whole batch (pixels NHWC uint8, labels)."""

    def __init__(self, cache_dir, split):
        self.manifest = manifest = read_manifest(cache_dir)
        self.path = Path(cache_dir) / f"{split}.npy"
        self.files = manifest["splits"][split]["files"]
        self.labels = np.asarray(manifest["splits"][split]["labels"], dtype=np.int64)
        self._pixels = None  # opened lazily, once per process, so workers share the page cache

    @property
    def pixels(self):
        if self._pixels is None:
            self._pixels = np.load(self.path, mmap_mode="r")
        return self._pixels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, indices):
        rows = np.sort(np.asarray(indices))
        return torch.from_numpy(self.pixels[rows]), torch.from_numpy(self.labels[rows])

    def __getstate__(self):
        return {**self.__dict__, "_pixels": None}


class EpochBatches(torch.utils.data.Sampler):
    """Row lists of one epoch: a fresh seeded shuffle per epoch when `shuffle`, else in order."""

    def __init__(self, n, batch_size, shuffle, seed=0, drop_last=False):
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size].tolist()

    def __len__(self):
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


def batches(split, batch_size, shuffle, seed=0, workers=0, pin_memory=False):
    """A DataLoader yielding (uint8 NHWC pixels, labels) batches of `split` (a CachedSplit)."""
    sampler = EpochBatches(len(split), batch_size, shuffle, seed, drop_last=shuffle and len(split) > batch_size)
    return DataLoader(split, sampler=sampler, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                      persistent_workers=workers > 0)
