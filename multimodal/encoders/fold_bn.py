"""Fold eval-mode batch norms into the convolutions that feed them (inference only).

EfficientNet-Lite0 in timm runs each convolution, then a ``BatchNormAct2d`` (batch norm, then ReLU6) as separate
passes over the activations. In eval mode the batch norm is a per-channel affine map, so it can live in the
convolution's weight and bias instead (``torch.nn.utils.fusion.fuse_conv_bn_eval``, done in fp32 before any
cast); what is left of the ``BatchNormAct2d`` is its activation. Same outputs (fp32: max difference ~1e-5 on
logits of ~6), fewer memory passes: measured on 2 cores with AVX512-BF16 (bf16, channels-last, interleaved in one
process), ms per row at 2 and 8 rows 7.4 and 8.1 unfolded, 6.3 and 4.3 folded.
"""

from __future__ import annotations


def fold_batch_norms(model) -> int:
    """Fold every ``BatchNormAct2d`` registered right after a ``Conv2d`` of the same parent into that conv, in
    place (``model`` must be in eval mode: the running statistics are used); returns how many were folded.
    Registration order is execution order in timm's EfficientNet blocks (conv, bn, ... per block)."""
    import torch
    from timm.layers import BatchNormAct2d
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("fold_batch_norms needs a model in eval mode (its running statistics are folded)")
    folded = 0
    for parent in model.modules():
        names = list(parent._modules)
        for conv_name, bn_name in zip(names, names[1:]):
            conv, bn = parent._modules[conv_name], parent._modules[bn_name]
            if isinstance(conv, torch.nn.Conv2d) and type(bn) is BatchNormAct2d and bn.affine:
                parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
                parent._modules[bn_name] = torch.nn.Sequential(bn.drop, bn.act)
                folded += 1
    return folded
