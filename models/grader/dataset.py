"""Torch datasets over the crop cache: augmentation, normalisation, targets, sampling."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from models.grader import augment
from models.grader.config import TrainConfig
from models.grader.data import SOURCE_SHORT, UNKNOWN, CropCache, Record
from models.grader.preprocess import NormaliseParams, normalise_colour, to_tensor_layout

Item = dict[str, torch.Tensor]


class FundusDataset(Dataset[Item]):
    """Items are (record position, augmentation seed); seed < 0 means no augmentation."""

    def __init__(
        self, records: list[Record], cache: CropCache, cfg: TrainConfig, map_size: int, train: bool
    ) -> None:
        index = cache.index()
        self.records = [r for r in records if r.key in index]
        self.rows = [index[r.key] for r in self.records]
        self.cache = cache
        self.cfg = cfg
        self.map_size = map_size
        self.train = train
        self.norm = NormaliseParams()

    def __len__(self) -> int:
        return len(self.records)

    def _lesion_map(self, masks: np.ndarray) -> np.ndarray:
        side = masks.shape[1]
        cell = side // self.map_size
        m = masks[:, : cell * self.map_size, : cell * self.map_size]
        m = m.reshape(len(masks), self.map_size, cell, self.map_size, cell).max(axis=(2, 4))
        return (m > 64).astype(np.float32)

    def __getitem__(self, item: int | tuple[int, int]) -> Item:
        pos, seed = item if isinstance(item, tuple) else (item, -1)
        rec, row = self.records[pos], self.rows[pos]
        mrow = int(self.cache.mask_row[row])
        sample = augment.Sample(
            image=self.cache.images[row].copy(),
            valid=self.cache.valid[row].copy(),
            masks=self.cache.masks[mrow].copy() if mrow >= 0 else None,
        )
        gradable = 1.0
        if seed >= 0:
            rng = np.random.default_rng([self.cfg.seed, seed])
            sample = augment.geometric(sample, self.cfg.augment, rng)
            if rng.random() < self.cfg.augment.degrade_p:
                kind = augment.DEGRADATIONS[int(rng.integers(len(augment.DEGRADATIONS)))]
                sample.image = augment.degrade(sample.image, sample.valid, kind, rng)
                gradable = 0.0
            else:
                sample.image = augment.photometric(sample.image, self.cfg.augment, rng)
        x = to_tensor_layout(normalise_colour(sample.image, sample.valid, self.norm))[0]
        known = gradable > 0  # an ungradable image teaches quality only
        lesions = np.array(rec.lesions, np.float32)
        if sample.masks is not None:
            lmap = self._lesion_map(sample.masks)
            has_map = 1.0
        else:
            lmap = np.zeros((4, self.map_size, self.map_size), np.float32)
            has_map = 0.0
        return {
            "x": torch.from_numpy(x),
            "grade": torch.tensor(rec.grade if known else UNKNOWN),
            "referable": torch.tensor(float(rec.referable if known else UNKNOWN)),
            "dme": torch.tensor(float(rec.dme if known else UNKNOWN)),
            "lesions": torch.from_numpy(lesions if known else np.full(4, -1.0, np.float32)),
            "lesion_map": torch.from_numpy(lmap),
            "has_map": torch.tensor(has_map if known else 0.0),
            "quality": torch.tensor(gradable),
            "index": torch.tensor(pos),
        }


def sample_weights(records: list[Record], cfg: TrainConfig) -> np.ndarray:
    """Per-record sampling weight: rarer grades drawn more often (frequency^-power), times
    a per-source multiplier (natural-colour sources up-weighted)."""
    counts = Counter(r.grade for r in records if r.grade != UNKNOWN)
    total = sum(counts.values())
    w = np.empty(len(records), np.float64)
    graded_mean = []
    for i, r in enumerate(records):
        src = cfg.source_weight.get(SOURCE_SHORT[r.source], 1.0)
        if r.grade != UNKNOWN:
            w[i] = src * (counts[r.grade] / total) ** (-cfg.grade_balance_power)
            graded_mean.append(w[i] / src)
        else:
            w[i] = src
    base = float(np.mean(graded_mean)) if graded_mean else 1.0
    for i, r in enumerate(records):
        if r.grade == UNKNOWN:
            w[i] *= base
    return w / w.sum()


class EpochSampler(Sampler[tuple[int, int]]):
    """Draws `n` (record, augmentation seed) pairs with replacement; deterministic per
    epoch, so a resumed run sees the same data as an uninterrupted one."""

    def __init__(self, weights: np.ndarray, n: int, seed: int) -> None:
        self.weights = weights
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, 1000 + self.epoch])
        picks = rng.choice(len(self.weights), size=self.n, p=self.weights)
        base = self.epoch * self.n
        return iter((int(p), base + k) for k, p in enumerate(picks))
