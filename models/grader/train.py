"""Train the reference grader.

    python -m models.grader.train --config cpu [--name NAME] [--data-dir DIR] [--resume]

Writes runs/<name>/: config.json, metrics.json (per epoch), last.pt (resumable
checkpoint), final.pt (EMA weights + config), train.log when launched with nohup.
Deterministic for a given seed and thread count; a resumed run continues where the
checkpoint stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from models.grader.config import RECIPES, REPO_ROOT, TrainConfig, default_data_dir
from models.grader.data import EYEPACS, SRAHIM, CropCache, Record, build_cache, load_records
from models.grader.dataset import EpochSampler, FundusDataset, sample_weights
from models.grader.metrics import quadratic_kappa, roc_auc
from models.grader.network import GraderNet

VALID_SETS = {"srahim-valid": (SRAHIM, "valid"), "eyepacs-valid": (EYEPACS, "valid")}


def _masked_bce(logits: Tensor, target: Tensor, pos_weight: float = 1.0) -> Tensor:
    known = target >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    pw = torch.tensor(pos_weight)
    return F.binary_cross_entropy_with_logits(logits[known], target[known], pos_weight=pw)


def compute_losses(
    out: dict[str, Tensor], batch: dict[str, Tensor], cfg: TrainConfig
) -> dict[str, Tensor]:
    w = cfg.losses
    losses: dict[str, Tensor] = {}
    graded = batch["grade"] >= 0
    if bool(graded.any()):
        logits, y = out["grade"][graded], batch["grade"][graded]
        losses["grade_ce"] = w.grade_ce * F.cross_entropy(
            logits, y, label_smoothing=cfg.label_smoothing
        )
        # Squared earth mover's distance between predicted and true CDFs: ordinal-aware.
        cdf = torch.cumsum(torch.softmax(logits, dim=1), dim=1)
        true_cdf = torch.cumsum(F.one_hot(y, 5).float(), dim=1)
        losses["grade_emd"] = w.grade_emd * ((cdf - true_cdf) ** 2).sum(1).mean()
    losses["referable"] = w.referable * _masked_bce(out["referable"], batch["referable"])
    losses["dme"] = w.dme * _masked_bce(out["dme"], batch["dme"])
    losses["lesion"] = w.lesion_presence * _masked_bce(out["lesion"], batch["lesions"])
    has_map = batch["has_map"] > 0
    if bool(has_map.any()):
        losses["lesion_map"] = w.lesion_map * F.binary_cross_entropy_with_logits(
            out["lesion_map"][has_map], batch["lesion_map"][has_map], pos_weight=torch.tensor(3.0)
        )
    losses["quality"] = w.quality * F.binary_cross_entropy_with_logits(
        out["quality"], batch["quality"]
    )
    return losses


class Ema:
    """Exponential moving average of parameters; buffers (BN statistics) are copied."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.shadow[k].copy_(v)


def build_model(cfg: TrainConfig, pretrained: bool = True) -> GraderNet:
    return GraderNet(
        backbone=cfg.backbone,
        input_size=cfg.input_size,
        dropout=cfg.dropout,
        pretrained=pretrained,
        frozen_blocks=cfg.frozen_blocks,
    )


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def predict_dataset(model: nn.Module, ds: FundusDataset, batch_size: int) -> dict[str, Any]:
    model.eval()
    probs: dict[str, list[np.ndarray]] = {"grade": [], "referable": [], "dme": []}
    for start in range(0, len(ds), batch_size):
        items = [ds[i] for i in range(start, min(len(ds), start + batch_size))]
        x = torch.stack([it["x"] for it in items]).contiguous(memory_format=torch.channels_last)
        out = model(x)
        probs["grade"].append(torch.softmax(out["grade"], 1).numpy())
        probs["referable"].append(torch.sigmoid(out["referable"]).numpy())
        probs["dme"].append(torch.sigmoid(out["dme"]).numpy())
    return {k: np.concatenate(v) for k, v in probs.items()}


def evaluate_split(model: nn.Module, ds: FundusDataset, batch_size: int) -> dict[str, float]:
    p = predict_dataset(model, ds, batch_size)
    grades = np.array([r.grade for r in ds.records])
    referable = np.array([r.referable for r in ds.records])
    pred = p["grade"].argmax(1)
    return {
        "n": float(len(ds)),
        "referable_auc": roc_auc(referable, p["referable"]),
        "referable_auc_from_grade": roc_auc(referable, p["grade"][:, 2:].sum(1)),
        "kappa": quadratic_kappa(grades, pred),
        "accuracy": float((pred == grades).mean()),
    }


def _subset(records: list[Record], source: str, split: str) -> list[Record]:
    return [r for r in records if r.source == source and r.split == split]


def train(
    cfg: TrainConfig,
    run_dir: Path,
    data_dir: Path,
    resume: bool,
    pretrained: bool = True,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    torch.set_num_threads(cfg.threads)
    if cfg.workers > 0:
        import cv2

        # OpenCV's thread pool does not survive fork: DataLoader workers would deadlock.
        cv2.setNumThreads(0)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(cfg.model_dump_json(indent=2))
    records = load_records(data_dir)
    train_recs = [r for r in records if r.split == "train"]
    if cfg.limit_images:
        rng = np.random.default_rng(cfg.seed)
        keep = sorted(rng.choice(len(train_recs), cfg.limit_images, replace=False))
        train_recs = [train_recs[i] for i in keep]
    valid = {name: _subset(records, *src) for name, src in VALID_SETS.items()}
    if cfg.limit_images:
        valid = {k: v[: cfg.limit_images] for k, v in valid.items()}
    needed = train_recs + [r for v in valid.values() for r in v]
    cache: CropCache = build_cache(
        needed, cfg.input_size, cache_dir or REPO_ROOT / "var" / "grader-cache"
    )
    if cache.skipped:
        print(f"skipped {len(cache.skipped)} images without a detectable field", flush=True)
    model = build_model(cfg, pretrained)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    train_ds = FundusDataset(train_recs, cache, cfg, model.map_size, train=True)
    valid_ds = {
        k: FundusDataset(v, cache, cfg, model.map_size, train=False) for k, v in valid.items()
    }
    head_names = ("map_head", "lesion_bias", "grade", "referable", "dme", "quality")
    heads = [p for n, p in model.named_parameters() if n.split(".")[0] in head_names]
    backbone = [
        p
        for n, p in model.named_parameters()
        if n.split(".")[0] not in head_names and p.requires_grad
    ]
    opt = torch.optim.AdamW(
        [{"params": backbone, "lr": cfg.lr}, {"params": heads, "lr": cfg.head_lr}],
        weight_decay=cfg.weight_decay,
    )
    base_lrs = [cfg.lr, cfg.head_lr]
    ema = Ema(model, cfg.ema_decay)
    steps_per_epoch = math.ceil(cfg.samples_per_epoch / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    sampler = EpochSampler(sample_weights(train_ds.records, cfg), cfg.samples_per_epoch, cfg.seed)
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    ckpt_path = run_dir / "last.pt"
    if resume and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        ema.shadow = ckpt["ema"]
        start_epoch, step, history = ckpt["epoch"] + 1, ckpt["step"], ckpt["history"]
        print(f"resumed from epoch {start_epoch}", flush=True)
    from tqdm import tqdm

    for epoch in range(start_epoch, cfg.epochs):
        torch.manual_seed(cfg.seed + epoch)
        sampler.set_epoch(epoch)
        loader = DataLoader(
            train_ds,
            batch_size=cfg.batch_size,
            sampler=sampler,
            num_workers=cfg.workers,
            drop_last=False,
            worker_init_fn=_worker_init,
        )
        model.train()
        t0 = time.time()
        sums: dict[str, float] = {}
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", mininterval=20, file=sys.stdout)
        for batch in bar:
            f = lr_factor(step, total_steps, cfg.warmup_steps)
            for g, base in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = base * f
            x = batch["x"].contiguous(memory_format=torch.channels_last)
            losses = compute_losses(model(x), batch, cfg)
            loss = sum(losses.values(), torch.zeros(()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            ema.update(model)
            step += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        n_batches = max(1, len(loader))
        eval_model = build_model(cfg, pretrained=False)
        eval_model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        eval_model.load_state_dict(ema.shadow)
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "seconds": round(time.time() - t0, 1),
            "train_loss": {k: round(v / n_batches, 4) for k, v in sums.items()},
        }
        full = (epoch + 1) % cfg.full_eval_every == 0 or epoch + 1 == cfg.epochs
        for name, ds in valid_ds.items():
            if full or name == "srahim-valid":
                entry[name] = evaluate_split(eval_model, ds, cfg.batch_size)
        entry["eval_seconds"] = round(time.time() - t0 - entry["seconds"], 1)
        history.append(entry)
        print(json.dumps(entry), flush=True)
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "ema": ema.shadow,
                "epoch": epoch,
                "step": step,
                "history": history,
            },
            run_dir / "last.tmp",
        )
        (run_dir / "last.tmp").replace(ckpt_path)
        (run_dir / "metrics.json").write_text(json.dumps(history, indent=2))
    torch.save({"state_dict": ema.shadow, "config": cfg.model_dump()}, run_dir / "final.pt")
    return {"history": history, "skipped": cache.skipped}


def _worker_init(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m models.grader.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--config", choices=sorted(RECIPES), default="cpu")
    ap.add_argument("--name", help="run folder name under --runs-dir (default: the recipe)")
    ap.add_argument("--runs-dir", type=Path, default=REPO_ROOT / "runs")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="shared data folder (default: $DEEPDR_DATA_DIR or ../shared/data)",
    )
    ap.add_argument("--epochs", type=int, help="override the recipe's epochs")
    ap.add_argument("--resume", action="store_true", help="continue from runs/<name>/last.pt")
    args = ap.parse_args(argv)
    cfg = RECIPES[args.config]
    overrides: dict[str, Any] = {}
    if args.name:
        overrides["name"] = args.name
    if args.epochs:
        overrides["epochs"] = args.epochs
    cfg = cfg.model_copy(update=overrides)
    data_dir = args.data_dir or default_data_dir()
    if not (data_dir / "fundus").is_dir():
        print(f"error: no fundus data under {data_dir}", file=sys.stderr)
        return 2
    train(cfg, args.runs_dir / cfg.name, data_dir, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
