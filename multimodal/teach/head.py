"""The few-shot head: class prototypes + a regularised logistic regression + the zero-shot text scores.

Pure numpy / scikit-learn on plain arrays; no model, no files. Features are first power-normalised
(``sign(x) |x|^p``, unit rows; Perronnin et al.'s power normalisation, ``p = 1`` leaves them as they are),
then centred on the examples' mean and made unit length again (SimpleShot's CL2N). On those ``x`` the
blended logit of label ``c`` is

    s_c(x) = log p_LR(c | x) + a * cos(x, prototype_c) + b * log p_zs(c | x)

where ``p_LR`` is a multinomial logistic regression with inverse regularisation ``C``, ``prototype_c`` the
unit mean of the label's examples (a nearest-class-mean classifier), and ``p_zs`` the zero-shot probability
from the label's text (Tip-Adapter's blend of a few-shot cache with the text classifier; ``b = 0`` without
text). ``p``, ``C``, ``a`` and ``b`` are chosen by stratified cross-validation on the examples themselves
(accuracy, then log-loss), and the probabilities ``softmax(s / T)`` are calibrated by the temperature ``T``
that minimises the log-loss of the out-of-fold scores. Extra views of the examples (flips) train the folds
they belong to and are never held out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from multimodal.teach.errors import LabelSetError

CRITERIA = ("accuracy", "log-loss")


@dataclass(frozen=True)
class HeadConfig:
    """The cross-validation grid and fallbacks.

    power_grid: feature power ``p``; c_grid: inverse L2 regularisation of the logistic regression;
    proto_grid: weights ``a`` of the prototype cosine; text_grid: weights ``b`` of the zero-shot
    log-probability (used only with text labels). defaults: ``(p, C, a, b)`` used when no cross-validation
    is possible (fewer than two labels with two examples). folds: at most this many folds (fewer when a
    label has fewer examples). center: subtract the training features' mean (then re-normalise).
    criterion: how a grid point is chosen, ``accuracy`` (then log-loss) or ``log-loss`` (after temperature
    scaling; smoother on few held-out examples). blas_threads: BLAS threads while fitting (``None``:
    leave them as they are). The fits are many small problems, for which extra BLAS threads only spin: with
    two threads on two cores a 500-example fit took 6x the CPU time and 3x the wall time of one thread.
    """

    power_grid: tuple[float, ...] = (1.0, 0.5)
    c_grid: tuple[float, ...] = (1.0, 10.0, 100.0)
    proto_grid: tuple[float, ...] = (0.0, 5.0, 10.0)
    text_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    defaults: tuple[float, float, float, float] = (1.0, 30.0, 0.0, 0.5)
    folds: int = 5
    seed: int = 0
    max_iter: int = 500
    center: bool = True
    criterion: str = "log-loss"
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise LabelSetError(f"criterion {self.criterion!r} is not one of {', '.join(CRITERIA)}")
        if not self.c_grid or min(self.c_grid) <= 0 or not self.power_grid or min(self.power_grid) <= 0:
            raise LabelSetError(
                f"c_grid and power_grid must hold positive values, got {self.c_grid}, {self.power_grid}"
            )
        if not self.proto_grid or not self.text_grid or min(self.proto_grid + self.text_grid) < 0:
            raise LabelSetError("proto_grid and text_grid must hold non-negative values")
        if self.folds < 2:
            raise LabelSetError(f"folds must be >= 2, got {self.folds}")
        if self.blas_threads is not None and self.blas_threads < 1:
            raise LabelSetError(f"blas_threads must be >= 1 or None, got {self.blas_threads}")


@dataclass(frozen=True)
class CvReport:
    """Cross-validated accuracy of the chosen head (``None`` when too few examples), how many examples were
    held out over how many folds, per-label accuracy, the accuracy of every grid point tried, and the
    out-of-fold confusion counts ``confusion[true][predicted]`` over all labels (a label never held out has a
    row of zeros; empty when nothing was cross-validated)."""

    accuracy: float | None
    held_out: int
    folds: int
    per_label: dict[str, float] = field(default_factory=dict)
    grid: tuple[tuple[float, float, float, float, float], ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "held_out": self.held_out,
            "folds": self.folds,
            "per_label": self.per_label,
            "grid": [{"power": p, "C": c, "proto": a, "text": b, "accuracy": acc} for p, c, a, b, acc in self.grid],
            "confusion": [list(row) for row in self.confusion],
        }


@dataclass(frozen=True)
class Head:
    """A fitted head. ``coef`` ``(L, f)``, ``intercept`` ``(L,)``, ``prototypes`` ``(L, f)`` unit rows,
    ``center`` ``(f,)`` subtracted from power-normalised features (then re-normalised) before both, all
    float32; ``power``, ``c``, ``proto_weight``, ``text_weight`` the choice; ``temperature`` the calibration."""

    labels: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    prototypes: np.ndarray
    center: np.ndarray
    power: float
    c: float
    proto_weight: float
    text_weight: float
    temperature: float
    cv: CvReport

    def logits(self, x: np.ndarray, zs_logp: np.ndarray | None = None) -> np.ndarray:
        """``(n, f)`` features (+ ``(n, L)`` zero-shot log-probabilities) -> ``(n, L)`` blended logits."""
        if x.shape[1] != self.coef.shape[1]:
            raise LabelSetError(f"features have dim {x.shape[1]} but the head was fitted on dim {self.coef.shape[1]}")
        x = transform(x, self.power, self.center)
        return blend(
            log_softmax(x @ self.coef.T + self.intercept),
            x @ self.prototypes.T,
            zs_logp,
            self.proto_weight,
            self.text_weight,
        )

    def probabilities(self, x: np.ndarray, zs_logp: np.ndarray | None = None) -> np.ndarray:
        """``(n, L)`` calibrated probabilities (rows sum to 1)."""
        return np.exp(log_softmax(self.logits(x, zs_logp) / self.temperature))


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def blend(lr_logp, proto_cos, zs_logp, a: float, b: float) -> np.ndarray:
    out = lr_logp + a * proto_cos
    return out + b * zs_logp if zs_logp is not None and b else out


def transform(x: np.ndarray, power: float, center: np.ndarray | None) -> np.ndarray:
    """Power-normalise ``x`` (``sign(x) |x|^power``, unit rows), then centre on ``center`` (unit rows again)."""
    x = np.asarray(x, np.float64)
    x = unit_rows(np.sign(x) * np.abs(x) ** power) if power != 1.0 else unit_rows(x)
    return unit_rows(x - center) if center is not None else x


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def prototypes(x: np.ndarray, y: np.ndarray, n_labels: int) -> np.ndarray:
    """``(L, f)`` unit class means of unit rows ``x`` by label index ``y``; a label without rows gets zeros."""
    sums = np.zeros((n_labels, x.shape[1]))
    np.add.at(sums, y, x)
    return unit_rows(sums)


def fit_lr(
    x: np.ndarray, y: np.ndarray, n_labels: int, c: float, max_iter: int, basis: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression; ``(coef (L, f), intercept (L,))`` with labels absent from ``y`` given a
    very low intercept (never predicted). ``basis``: :func:`row_basis` of ``x`` when already computed (it
    depends on ``x`` only, so fits of one ``x`` with several ``C`` share it)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    basis = row_basis(x) if basis is None else basis
    model = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "more classes than half the samples" is few-shot's normal
        model.fit(x @ basis, y)
    coef = np.zeros((n_labels, x.shape[1]))
    intercept = np.full(n_labels, -1e4)
    present = model.classes_.astype(int)
    if len(present) == 2:  # sklearn keeps one row for two classes: logit of the second
        coef[present[1]], intercept[present[1]] = model.coef_[0] @ basis.T, model.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        coef[present], intercept[present] = model.coef_ @ basis.T, model.intercept_
    return coef, intercept


def row_basis(x: np.ndarray) -> np.ndarray:
    """``(f, n)`` orthonormal columns whose span holds every row of ``x`` (identity ``(f, f)`` when ``n >= f``).

    An L2-regularised linear model's weights lie in the span of the rows (representer theorem), so fitting on
    ``x @ basis`` (``n`` columns) and mapping back gives the same model, much faster when ``n << f``. The
    basis is the ``Q`` of a QR factorisation of ``x.T`` (a few times cheaper than an SVD); with duplicate rows
    it holds directions no row has, in which the data are 0 and the L2 penalty keeps the weights at 0.
    """
    n, f = x.shape
    if n >= f:
        return np.eye(f)
    q, _ = np.linalg.qr(np.asarray(x, np.float64).T)
    return q


def fit_temperature(logits: np.ndarray, y: np.ndarray, smoothing: float = 0.01) -> float:
    """The ``T`` minimising the log-loss of ``softmax(logits / T)`` against labels smoothed by ``smoothing``
    (grid search, 0.05 .. 20). The smoothing keeps a few perfectly separated held-out examples from driving
    ``T`` to 0 (probabilities of exactly 1)."""
    best, best_nll = 1.0, np.inf
    for t in np.geomspace(0.05, 20.0, 121):
        logp = log_softmax(logits / t)
        nll = -((1 - smoothing) * logp[np.arange(len(y)), y] + smoothing * logp.mean(axis=1)).mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    labels: tuple[str, ...],
    *,
    zs_logp: np.ndarray | None = None,
    x_aug: np.ndarray | None = None,
    config: HeadConfig = HeadConfig(),
) -> Head:
    """Fit the head on ``x`` ``(n, f)`` unit rows with label indices ``y`` ``(n,)`` into ``labels``.

    ``zs_logp`` ``(n, L)``: zero-shot log-probabilities of the examples (text labels given), else ``None``.
    ``x_aug`` ``(m, n, f)``: ``m`` extra views of every example (e.g. flips), used for training only.
    """
    y = np.asarray(y, int)
    n_labels = len(labels)
    if n_labels < 2:
        raise LabelSetError(f"a label set needs at least 2 labels, got {n_labels}")
    with thread_limit(config.blas_threads):
        return _fit_head(x, y, labels, zs_logp, x_aug, config)


def thread_limit(threads: int | None):
    """A context limiting the BLAS libraries to ``threads`` (``None``: no change). scikit-learn and SciPy are
    imported first: a limit only reaches the libraries already loaded, and SciPy brings its own BLAS. OpenMP
    (torch's threads among others) is left alone. The limit is the process's while the context lasts."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    import scipy.optimize  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def _fit_head(x, y, labels, zs_logp, x_aug, config: HeadConfig) -> Head:
    n_labels = len(labels)
    views = np.concatenate([x[None], x_aug]) if x_aug is not None else x[None]
    folds = _folds(y, n_labels, config)
    if folds:
        (p, c, a, b), temperature, report = _cross_validate(views, y, labels, zs_logp, folds, config)
    else:
        (p, c, a, b), temperature, report = config.defaults, 1.0, CvReport(None, 0, 0)
    b = b if zs_logp is not None else 0.0
    fitted = _fit_parts(views, y, np.arange(len(y)), n_labels, p, (c,), config)
    return Head(
        labels=tuple(labels),
        coef=fitted.coefs[c][0].astype(np.float32),
        intercept=fitted.coefs[c][1].astype(np.float32),
        prototypes=fitted.prototypes.astype(np.float32),
        center=fitted.center.astype(np.float32),
        power=float(p),
        c=float(c),
        proto_weight=float(a),
        text_weight=float(b),
        temperature=temperature,
        cv=report,
    )


@dataclass(frozen=True)
class _Parts:
    center: np.ndarray
    prototypes: np.ndarray
    coefs: dict[float, tuple[np.ndarray, np.ndarray]]


def _fit_parts(views: np.ndarray, y: np.ndarray, train: np.ndarray, n_labels: int, power: float, cs, config) -> _Parts:
    """Centre, prototypes and one logistic regression per ``C`` from the ``train`` examples (all their views),
    on features raised to ``power``."""
    tx = transform(views[:, train].reshape(-1, views.shape[-1]), power, None)
    ty = np.tile(y[train], len(views))
    center = tx.mean(axis=0) if config.center else np.zeros(tx.shape[1])
    tx = unit_rows(tx - center)
    basis = row_basis(tx)
    coefs = {c: fit_lr(tx, ty, n_labels, c, config.max_iter, basis) for c in cs}
    return _Parts(center, prototypes(tx, ty, n_labels), coefs)


def _folds(y: np.ndarray, n_labels: int, config: HeadConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds over the examples of labels with >= 2 examples; the others always train.
    Empty when fewer than two labels have two examples."""
    counts = np.bincount(y, minlength=n_labels)
    eligible = np.flatnonzero(counts[y] >= 2)
    if (counts >= 2).sum() < 2:
        return []
    from sklearn.model_selection import StratifiedKFold

    k = int(min(config.folds, counts[counts >= 2].min()))
    always = np.flatnonzero(counts[y] < 2)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed)
    return [(np.concatenate([always, eligible[tr]]), eligible[te]) for tr, te in splitter.split(eligible, y[eligible])]


def _cross_validate(views, y, labels, zs_logp, folds, config: HeadConfig):
    """Out-of-fold scores for every grid point; the best ``(p, C, a, b)``, its temperature and the report."""
    n_labels = len(labels)
    held = np.concatenate([te for _, te in folds])
    truth = y[held]
    zs = zs_logp[held] if zs_logp is not None else None
    text_grid = config.text_grid if zs is not None else (0.0,)
    tried, best, best_key = [], None, None
    for p in config.power_grid:
        lr_logp, proto_cos = _out_of_fold(views, y, folds, n_labels, p, config)
        for c in config.c_grid:
            for a in config.proto_grid:
                for b in text_grid:
                    s = blend(lr_logp[c], proto_cos, zs, a, b)
                    acc = float((s.argmax(axis=1) == truth).mean())
                    key = _criterion(s, truth, acc, config.criterion)
                    tried.append((p, c, a, b, acc))
                    if best_key is None or key > best_key:
                        best, best_key = ((p, c, a, b), s, acc), key
    choice, s, acc = best
    pred = s.argmax(axis=1)
    per_label = {labels[k]: float((pred[truth == k] == k).mean()) for k in np.unique(truth)}
    confusion = np.zeros((n_labels, n_labels), dtype=int)
    np.add.at(confusion, (truth, pred), 1)
    report = CvReport(acc, len(held), len(folds), per_label, tuple(tried), tuple(map(tuple, confusion.tolist())))
    return choice, fit_temperature(s, truth), report


def _out_of_fold(views, y, folds, n_labels: int, power: float, config: HeadConfig):
    """Held-out LR log-probabilities per ``C`` and prototype cosines, rows in the order of the folds' tests."""
    n_held = sum(len(te) for _, te in folds)
    proto_cos = np.zeros((n_held, n_labels))
    lr_logp = {c: np.zeros((n_held, n_labels)) for c in config.c_grid}
    start = 0
    for train, test in folds:
        parts = _fit_parts(views, y, train, n_labels, power, config.c_grid, config)
        q = transform(views[0, test], power, parts.center)
        rows = slice(start, start + len(test))
        proto_cos[rows] = q @ parts.prototypes.T
        for c, (coef, intercept) in parts.coefs.items():
            lr_logp[c][rows] = log_softmax(q @ coef.T + intercept)
        start += len(test)
    return lr_logp, proto_cos


def _criterion(s: np.ndarray, truth: np.ndarray, acc: float, criterion: str) -> tuple[float, float]:
    """Larger is better: ``(accuracy, -log-loss)`` or ``(-log-loss after temperature scaling, accuracy)``."""
    nll = -float(log_softmax(s)[np.arange(len(truth)), truth].mean())
    if criterion == "accuracy":
        return acc, -nll
    t = fit_temperature(s, truth, smoothing=0.0)
    return -float(-log_softmax(s / t)[np.arange(len(truth)), truth].mean()), acc
