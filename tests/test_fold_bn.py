"""Batch norms folded into convolutions (multimodal/encoders/fold_bn.py): same outputs, none left behind."""

from __future__ import annotations

import copy

import pytest
import torch
from timm.layers import BatchNormAct2d

from multimodal.encoders.fold_bn import fold_batch_norms


class Block(torch.nn.Module):
    """conv -> BN+ReLU6 twice, with an unrelated module between the pairs (as timm's blocks have)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn_a = BatchNormAct2d(8, act_layer=torch.nn.ReLU6)
        self.mid = torch.nn.Identity()
        self.conv_b = torch.nn.Conv2d(8, 4, 1, bias=True)
        self.bn_b = BatchNormAct2d(4, act_layer=torch.nn.ReLU6)

    def forward(self, x):
        return self.bn_b(self.conv_b(self.mid(self.bn_a(self.conv_a(x)))))


def _with_statistics(model: torch.nn.Module) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, BatchNormAct2d):  # trained-looking statistics, far from the identity
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 3 + 0.1)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return model.eval()


def test_folding_keeps_the_outputs_and_leaves_only_the_activations():
    model = _with_statistics(Block())
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(x)
        folded = copy.deepcopy(model)
        assert fold_batch_norms(folded) == 2
        got = folded(x)
    assert not any(isinstance(m, BatchNormAct2d) for m in folded.modules())
    assert isinstance(folded.bn_a[1], torch.nn.ReLU6) and folded.conv_a.bias is not None
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert fold_batch_norms(folded) == 0  # nothing left to fold


def test_folding_refuses_a_model_in_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(Block().train())


@pytest.mark.slow
def test_the_lite_classifier_folds_every_batch_norm_with_the_same_outputs():
    import numpy as np
    from PIL import Image
    from skimage import data

    from multimodal.encoders.lite_parts import crop_view, load_classifier

    model = load_classifier()
    count = sum(type(m) is BatchNormAct2d for m in model.modules())
    x = torch.from_numpy(np.stack([crop_view(Image.fromarray(data.coffee()))])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        want = model(x)
        folded = copy.deepcopy(model)
        assert fold_batch_norms(folded) == count == 49
        got = folded(x)
    assert not any(isinstance(m, BatchNormAct2d) for m in folded.modules())
    torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-4)
    assert got.argmax() == want.argmax()
