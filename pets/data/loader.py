"""Batches of uint8 pixels straight from the pixel cache.

A background thread reads the rows of a batch (sorted, so the reads are sequential) with one
`pread` each into fresh memory: the page cache holds the file once, and the process never maps the
whole cache into its own memory. Augmentation and normalisation happen later, on the training device.
"""

import os
import queue
import threading
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pets.data.cache import read_manifest
from pets.errors import PetsError
from pets.runtime import distributed


class CachedSplit(Dataset):
    """One split of the cache; item `rows` (a list of row numbers) is a batch: (uint8 NHWC pixels, labels)."""

    def __init__(self, cache_dir, split):
        self.manifest = manifest = read_manifest(cache_dir)
        self.path = Path(cache_dir) / f"{split}.npy"
        self.files = manifest["splits"][split]["files"]
        self.labels = np.asarray(manifest["splits"][split]["labels"], dtype=np.int64)
        try:
            header = np.load(self.path, mmap_mode="r")
        except Exception as error:  # noqa: BLE001 - missing, cut short, a garbled header (tokenize errors): unusable
            raise PetsError(
                f"{self.path} cannot be read ({' '.join(str(error).split())[:120]}); rebuild it with "
                "`dvc repro --force cache`"
            ) from None
        if header.shape[0] != len(self.labels) or header.dtype != np.uint8:
            raise PetsError(
                f"{self.path} does not match its manifest ({header.shape[0]} rows of {header.dtype}, "
                f"{len(self.labels)} uint8 images listed); rebuild it with `dvc repro --force cache`"
            )
        self.image_shape, self._offset = header.shape[1:], header.offset
        self._fd, self._pid = None, None

    def __len__(self):
        return len(self.labels)

    def _descriptor(self):
        if self._pid != os.getpid():  # one descriptor per process, also after a fork
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def __getitem__(self, rows):
        rows = list(rows)
        pixels = np.empty((len(rows),) + self.image_shape, np.uint8)
        flat = pixels.reshape(len(rows), int(np.prod(self.image_shape)))
        row_bytes = flat.shape[1]
        for i, row in enumerate(rows):
            if os.preadv(self._descriptor(), [flat[i]], self._offset + row * row_bytes) != row_bytes:
                raise PetsError(
                    f"{self.path} is shorter than its manifest says; rebuild it with `dvc repro --force cache`"
                )
        return torch.from_numpy(pixels), torch.from_numpy(self.labels[rows])

    def __getstate__(self):
        return {**self.__dict__, "_fd": None, "_pid": None}


class EpochBatches(torch.utils.data.Sampler):
    """Row lists of one epoch, each sorted: a fresh seeded shuffle per epoch when `shuffle`, else in order.

    Under torchrun every process draws the same order and takes every `world`-th row from `rank` on;
    with `drop_last` the shards are cut to equal length, so every process takes the same number of steps.
    """

    def __init__(self, n, batch_size, shuffle, seed=0, drop_last=False):
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, drop_last
        self.rank, self.world = distributed.world()
        self.generator = torch.Generator().manual_seed(seed)

    def _shard_size(self):
        return self.n // self.world if self.drop_last else len(range(self.rank, self.n, self.world))

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        shard = order[self.rank :: self.world][: self._shard_size()]
        stop = len(shard) - len(shard) % self.batch_size if self.drop_last else len(shard)
        for start in range(0, stop, self.batch_size):
            yield sorted(shard[start : start + self.batch_size].tolist())

    def __len__(self):
        return self._shard_size() // self.batch_size if self.drop_last else -(-self._shard_size() // self.batch_size)

    @property
    def images(self) -> int:
        """The rows one epoch yields in this process."""
        return len(self) * self.batch_size if self.drop_last else self._shard_size()


class Batches:
    """The batches of one epoch per iteration, read ahead by a background thread.

    `pread` releases the GIL, so reading overlaps the training step without worker processes, whose
    hand-over of every batch through shared memory would cost more than the read itself.
    """

    def __init__(self, split, sampler, pin_memory=False, ahead=3):
        self.split, self.sampler, self.pin_memory, self.ahead = split, sampler, pin_memory, ahead

    def __len__(self):
        return len(self.sampler)

    @property
    def images(self) -> int:
        return self.sampler.images

    def _read(self, rows):
        pixels, labels = self.split[rows]
        return (pixels.pin_memory(), labels.pin_memory()) if self.pin_memory else (pixels, labels)

    def __iter__(self):
        ready, stop = queue.Queue(maxsize=self.ahead), threading.Event()

        def offer(item):
            """Queue `item` unless the consumer has gone away."""
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def produce():
            try:
                for rows in self.sampler:
                    if stop.is_set():
                        return
                    offer(self._read(rows))
                offer(StopIteration())
            except Exception as error:  # noqa: BLE001 - handed to the consumer, raised there
                offer(error)

        reader = threading.Thread(target=produce, daemon=True)
        reader.start()
        try:
            while not isinstance(item := ready.get(), Exception):
                yield item
            if not isinstance(item, StopIteration):
                raise item
        finally:  # also when the consumer stops early or fails: let the reader go
            stop.set()
            reader.join()


def batches(split: CachedSplit, batch_size: int, shuffle: bool, seed: int = 0, pin_memory: bool = False) -> Batches:
    """(uint8 NHWC pixels, labels) batches of `split` (a CachedSplit), this process's shard, read ahead."""
    drop_last = shuffle and len(split) > batch_size * distributed.world()[1]
    return Batches(split, EpochBatches(len(split), batch_size, shuffle, seed, drop_last), pin_memory)
