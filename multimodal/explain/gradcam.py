"""Grad-CAM (Selvaraju et al., 2017) with torch hooks: the one place explainers take gradients.

Why not the ``grad-cam`` package (pytorch-grad-cam)? It requires ``opencv-python-headless``, while our OCR
dependency ``rapidocr-onnxruntime`` requires ``opencv-python``. Both wheels install the same ``cv2`` package
folder: pip lets them overwrite each other's files and uninstalling either breaks the other (OpenCV's own
README: "install only one of the packages"). The method itself is a few lines, written here with forward hooks
and ``torch.autograd.grad``; everything else ``grad-cam`` would have given us (upsampling, overlays) is in
:mod:`.post` and :mod:`.render` as pure numpy.

Grad-CAM of a score ``s`` at a layer with activations ``A`` ``(C, h, w)``: ``relu(sum_c w_c A_c)`` with
``w_c = mean_{h,w} ds/dA_c``. For ViT tokens the same formula runs over the patch-token grid.
"""

from __future__ import annotations

from typing import Callable, Sequence


def activation_and_gradient(score_fn: Callable, x, layer) -> tuple[object, object, float]:
    """Run ``score_fn(x)`` (a scalar tensor) with a hook on ``layer``; return the layer's output, the gradient of
    the score with respect to it (both detached tensors) and the score."""
    acts, grads, score = activations_and_gradients(score_fn, x, [layer])
    return acts[0], grads[0], score


def activations_and_gradients(score_fn: Callable, x, layers: Sequence) -> tuple[list, list, float]:
    """Run ``score_fn(x)`` (a scalar tensor) with hooks on ``layers``; return their outputs, the gradients of the
    score with respect to them (detached tensors, in the order of ``layers``) and the score.

    The forward runs without autograd up to the first hooked layer that fires, whose output is then made a leaf
    that requires grad: the layers before it record nothing (faster, less memory) and the backward stops there.
    Works with or without frozen parameters and inside callers' ``inference_mode``. The hooks act only on this
    thread's forward: a server may run plain embeddings through the same modules on other threads meanwhile.
    """
    import threading

    import torch

    from multimodal.errors import ConfigError

    captured: dict[int, object] = {}
    owner = threading.get_ident()

    def hook(i):
        def fn(_module, _inputs, output):
            if threading.get_ident() != owner:
                return None  # another thread's forward through the shared model: leave it alone
            out = output[0] if isinstance(output, tuple) else output
            if not captured:  # the earliest layer: from here on autograd records
                torch.set_grad_enabled(True)
                out = out.detach().requires_grad_(True)
            captured[i] = out
            if isinstance(output, tuple):
                return (out, *output[1:])
            return out

        return fn

    handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.inference_mode(False), torch.no_grad():
            score = score_fn(x.detach().clone())
            if len(captured) != len(layers):
                missing = [type(layers[i]).__name__ for i in range(len(layers)) if i not in captured]
                raise ConfigError(f"the explain layers {missing} did not run in the forward pass")
            acts = [captured[i] for i in range(len(layers))]
            grads = torch.autograd.grad(score, acts, allow_unused=False)
    finally:
        for handle in handles:
            handle.remove()
    return [a.detach() for a in acts], [g.detach() for g in grads], float(score.detach().float())


def cam(act, grad):
    """Grad-CAM map ``(h, w)`` float32 numpy from activations and gradients ``(1, C, h, w)`` (relu applied)."""
    import torch

    weights = grad.float().mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * act.float()).sum(dim=1))[0].cpu().numpy()


def hires_cam(act, grad):
    """HiResCAM (Draelos & Carin, 2020) map ``(h, w)`` float32 numpy: ``relu(sum_c grad_c * A_c)``, the gradient
    kept per position instead of averaged, so the map follows where the evidence is, at the layer's resolution."""
    import torch

    return torch.relu((grad.float() * act.float()).sum(dim=1))[0].cpu().numpy()


def tokens_to_grid(tokens, grid: tuple[int, int], prefix: int = 1):
    """ViT tokens ``(1, prefix + h*w, C)`` -> ``(1, C, h, w)``, dropping the ``prefix`` (class) tokens."""
    h, w = grid
    patches = tokens[:, prefix:, :]
    if patches.shape[1] != h * w:
        from multimodal.errors import ConfigError

        raise ConfigError(f"expected {h}x{w}={h * w} patch tokens after {prefix} prefix tokens, got {patches.shape[1]}")
    return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], h, w)
