"""The differentiable model behind :func:`learn_kinetics`: particles packed side by side, laws from parameters.

Parameters theta, in order:

- a_1..a_n_mu:   mu_h(c) = ln(c / (1 - c)) + sum_n a_n P_n(2c - 1)                         (kT)
- b (n_j0 terms): ln j0(c) = b_0 + b_1 ln c + b_2 ln(1 - c) + sum_{m>=2} b_{m+1} P_m(2c - 1)       (j0 > 0)
  the power laws c^b_1 (1 - c)^b_2 reach both sqrt(c (1 - c)) and sqrt(c) (1 - c) exactly; the Legendre terms
  shape the middle. j0 is symmetric about c = 1/2 when b_1 = b_2 and the odd Legendre terms vanish.
- ln kappa                                                                                  (kT px^2)
- CHR only: ln D(c) = sum_m d_m P_m(2c - 1), M(c) = D(c) c (1 - c)
- the rate map: ln k(x) = sum_j g_j phi_j(x), phi_j the smoothest eigenmodes of each particle's graph Laplacian
  (no-flux modes that follow the particle's shape), the first particle's constant mode left out: a constant moves
  between k and j0, and the gauge mean k = 1 is applied to the result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError
from ._basis import legendre


@dataclass(frozen=True, eq=False)
class Packing:
    """Particles cut out of the field (their bounding boxes plus a margin) and laid side by side.

    The model only ever integrates the packed field, so its cost follows the particles' area, not the field's.
    """

    labels: np.ndarray  # packed labels (H, W), 1..P
    boxes: tuple[tuple[int, int, int, int], ...]  # (y0, y1, x0, x1) of each particle in the field
    offsets: tuple[int, ...]  # column where each box starts in the packed field
    field_shape: tuple[int, int]
    margin: int
    field_labels: np.ndarray = field(repr=False)

    def pack(self, frames: np.ndarray, fill: float = 0.5) -> np.ndarray:
        """Cut (..., Y, X) field frames into (..., H, W) packed frames (``fill`` outside the particles)."""
        frames = np.asarray(frames)
        out = np.full((*frames.shape[:-2], *self.labels.shape), fill, frames.dtype)
        for p, ((y0, y1, x0, x1), off) in enumerate(zip(self.boxes, self.offsets, strict=True)):
            box = frames[..., y0:y1, x0:x1]
            inside = self.field_labels[y0:y1, x0:x1] == p + 1
            region = out[..., self.margin: self.margin + y1 - y0, off: off + x1 - x0]
            region[...] = np.where(inside, box, region)
        return out

    def unpack(self, packed: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Put packed (..., H, W) values back into (..., Y, X) field frames (``fill`` outside the particles)."""
        packed = np.asarray(packed)
        out = np.full((*packed.shape[:-2], *self.field_shape), fill, np.result_type(packed.dtype, np.float32))
        for p, ((y0, y1, x0, x1), off) in enumerate(zip(self.boxes, self.offsets, strict=True)):
            inside = self.field_labels[y0:y1, x0:x1] == p + 1
            region = out[..., y0:y1, x0:x1]
            region[...] = np.where(inside, packed[..., self.margin: self.margin + y1 - y0, off: off + x1 - x0],
                                   region)
        return out


def pack_particles(labels: np.ndarray, margin: int = 1) -> Packing:
    """Lay the particles of ``labels`` (1..P) side by side, each in its bounding box with ``margin`` pixels."""
    n = int(labels.max())
    boxes, offsets, heights, x = [], [], [], 0
    for p in range(1, n + 1):
        ys, xs = np.nonzero(labels == p)
        box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
        boxes.append(box)
        offsets.append(x + margin)
        heights.append(box[1] - box[0])
        x += box[3] - box[2] + 2 * margin
    packed = np.zeros((max(heights) + 2 * margin, x), np.int32)
    for p, ((y0, y1, x0, x1), off) in enumerate(zip(boxes, offsets, strict=True)):
        inside = labels[y0:y1, x0:x1] == p + 1
        packed[margin: margin + y1 - y0, off: off + x1 - x0][inside] = p + 1
    return Packing(labels=packed, boxes=tuple(boxes), offsets=tuple(offsets), field_shape=labels.shape,
                   margin=margin, field_labels=labels)


def rate_modes(labels: np.ndarray, n_modes: list[int]) -> np.ndarray:
    """Return the smoothest graph-Laplacian eigenmodes of each particle, shape (sum(n_modes), H, W).

    Modes are scaled to unit root-mean-square over their particle; the constant mode of the first particle is
    left out (the scale of k is a gauge shared with j0).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import eigsh

    modes = []
    for p, n in enumerate(n_modes, start=1):
        ys, xs = np.nonzero(labels == p)
        index = -np.ones(labels.shape, int)
        index[ys, xs] = np.arange(ys.size)
        rows, cols = [], []
        for dy, dx in ((0, 1), (1, 0)):
            y2, x2 = ys + dy, xs + dx
            ok = (y2 < labels.shape[0]) & (x2 < labels.shape[1])
            ok[ok] = labels[y2[ok], x2[ok]] == p
            rows += [index[ys[ok], xs[ok]]]
            cols += [index[y2[ok], x2[ok]]]
        i, j = np.concatenate(rows), np.concatenate(cols)
        adj = coo_matrix((np.ones(i.size), (i, j)), shape=(ys.size, ys.size))
        adj = (adj + adj.T).tocsr()
        lap = np.diag(np.asarray(adj.sum(1)).ravel()) - adj.toarray() if ys.size <= 3000 else None
        k = min(n, ys.size)
        if lap is not None:
            _, vecs = np.linalg.eigh(lap)
            vecs = vecs[:, :k]
        else:  # pragma: no cover - particles over 3000 px
            from scipy.sparse import diags

            sparse_lap = diags(np.asarray(adj.sum(1)).ravel()) - adj
            _, vecs = eigsh(sparse_lap, k=k, sigma=-1e-3)
        for m in range(k):
            if p == 1 and m == 0:
                continue
            mode = np.zeros(labels.shape, np.float32)
            v = vecs[:, m]
            mode[ys, xs] = v / max(np.sqrt(np.mean(v**2)), 1e-12)
            modes.append(mode)
    return np.asarray(modes, np.float32).reshape(len(modes), *labels.shape)


def log_j0_basis(c, n_terms: int, xp=np):
    """Columns [1, ln c, ln(1 - c), P_2(2c - 1), P_3(2c - 1), ...] of ln j0, ``n_terms`` of them (>= 3)."""
    c = xp.clip(c, 1e-6, 1 - 1e-6)
    columns = [xp.ones_like(c), xp.log(c), xp.log(1 - c)]
    if n_terms > 3:
        poly = legendre(2 * c - 1, n_terms - 2, xp)
        columns += [poly[..., m] for m in range(2, n_terms - 1)]
    return xp.stack(columns[:n_terms], axis=-1)


def symmetry_contrasts(n_terms: int) -> np.ndarray:
    """Rows L with L b = 0 exactly when j0(c) = j0(1 - c): b_1 - b_2, and each odd Legendre term."""
    rows = [np.eye(n_terms)[1] - np.eye(n_terms)[2]]
    rows += [np.eye(n_terms)[m + 1] for m in range(3, n_terms - 1, 2)]
    return np.asarray(rows)


@dataclass(frozen=True, eq=False)
class KineticsSpec:
    """What is fitted and how the packed particles are integrated (static for JAX)."""

    model: str
    n_mu: int
    n_j0: int
    n_d: int
    fit_kappa: bool
    kappa: float
    alpha: float
    modes: np.ndarray  # (n_k, H, W)
    labels: np.ndarray  # packed labels
    steps_per_frame: int
    dt: float
    horizon: int

    @property
    def n_k(self) -> int:
        """Rate-map coefficients."""
        return int(self.modes.shape[0])

    @property
    def n_params(self) -> int:
        """All fitted parameters."""
        return self.n_mu + self.n_j0 + int(self.fit_kappa) + self.n_d + self.n_k

    @property
    def slices(self) -> dict[str, slice]:
        """Where each group of parameters sits in theta."""
        out, start = {}, 0
        for name, size in (("a", self.n_mu), ("b", self.n_j0), ("log_kappa", int(self.fit_kappa)),
                           ("d", self.n_d), ("g", self.n_k)):
            out[name] = slice(start, start + size)
            start += size
        return out

    def laws(self, theta):
        """Return the :class:`~operando.simulate.ReactionLaws` of ``theta`` (JAX)."""
        import jax.numpy as jnp

        from ..simulate import ReactionLaws
        from ._basis import mobility_curve, mu_h_curve

        s = self.slices
        a, b, d, g = theta[s["a"]], theta[s["b"]], theta[s["d"]], theta[s["g"]]
        kappa = jnp.exp(theta[s["log_kappa"]][0]) if self.fit_kappa else self.kappa

        def j0(c):
            return jnp.exp(log_j0_basis(c, self.n_j0, jnp) @ b)

        return ReactionLaws(
            mu_h=lambda c: mu_h_curve(c, a, jnp), j0=j0, kappa=kappa,
            log_k=jnp.tensordot(g, jnp.asarray(self.modes), axes=1),
            mobility=(lambda c: mobility_curve(c, d, jnp)) if self.model == "chr" else None, alpha=self.alpha)


def _windows_predictor(spec: KineticsSpec):
    """``predict(laws, starts, drives)``: every window integrated from its start, (W, horizon, H, W') (JAX)."""
    import jax

    from ..simulate import integrate_particles, particle_grid

    grid = particle_grid(spec.labels)

    def predict(laws, starts, drives):
        return jax.vmap(lambda c0, drive: integrate_particles(
            c0, laws, grid, drive=drive, steps_per_frame=spec.steps_per_frame, dt=spec.dt))(starts, drives)

    return predict


def _link_index(links: tuple[tuple[int, int, int], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the links of :func:`window_links` as index arrays: windows, earlier windows, 0-based frames."""
    w, v, k = (np.asarray(column, int).reshape(-1) for column in zip(*links, strict=True)) if links else \
        (np.zeros(0, int),) * 3
    return w, v, k - 1


def _jacobian(residual, free: tuple[int, ...] | None):
    """Jitted forward-mode Jacobian of ``residual(theta, ...)`` in all parameters or only ``free`` (others held)."""
    import jax
    import jax.numpy as jnp

    if free is None:
        return jax.jit(jax.jacfwd(residual))
    index = jnp.asarray(free)

    def jac(theta, *args):
        return jax.jacfwd(lambda sub: residual(theta.at[index].set(sub), *args))(theta[index])

    return jax.jit(jac)


@functools.lru_cache(maxsize=8)
def residual_functions(spec: KineticsSpec):
    """Jitted ``residual(theta, starts, targets, weights, drives)`` and its forward-mode Jacobian.

    ``starts`` (W, H, W') packed starting states, ``targets`` (W, horizon, H, W') observed frames, ``weights``
    (W, horizon, H, W') = 1 / sd on the particle pixels (0 elsewhere), ``drives`` (W, horizon, P) currents.
    The residual is (prediction - observation) / sd on every particle pixel of every predicted frame.
    """
    import jax

    predict = _windows_predictor(spec)
    flat = np.flatnonzero(np.broadcast_to(spec.labels > 0, spec.labels.shape))

    def residual(theta, starts, targets, weights, drives):
        r = (predict(spec.laws(theta), starts, drives) - targets) * weights
        return r.reshape(*r.shape[:2], -1)[:, :, flat].reshape(-1)

    return jax.jit(residual), _jacobian(residual, None)


@functools.lru_cache(maxsize=8)
def joint_residual_functions(spec: KineticsSpec, links: tuple[tuple[int, int, int], ...], continuity: float,
                             free: tuple[int, ...] | None = None):
    """Jitted residual and Jacobian of the windows plus the continuity terms, the states held.

    ``residual(theta, starts, targets, weights, drives, w_start)``: the windows' (prediction - observation) / sd,
    then ``continuity * w_start (u_w - predict_k(u_v))`` for each link (w, v, k): the objective of
    :func:`~operando.inverse._kinetics_joint.fit_joint` with its states held (its start terms are constant in theta),
    used for the reported Jacobian and the uniform-k refit at the fitted starts.
    The Jacobian is taken with respect to ``free`` (default: every parameter).
    """
    import jax
    import jax.numpy as jnp

    predict = _windows_predictor(spec)
    inside = np.flatnonzero(spec.labels.ravel() > 0)
    w_idx, v_idx, k_idx = _link_index(links)

    def residual(theta, starts, targets, weights, drives, w_start):
        preds = predict(spec.laws(theta), starts, drives)
        r = ((preds - targets) * weights).reshape(*preds.shape[:2], -1)[:, :, inside].reshape(-1)
        if not len(links):
            return r
        c = continuity * w_start[w_idx] * (starts[w_idx] - preds[v_idx, k_idx])
        return jnp.concatenate([r, c.reshape(len(links), -1)[:, inside].reshape(-1)])

    return jax.jit(residual), _jacobian(residual, free)


@functools.lru_cache(maxsize=8)
def prediction_function(spec: KineticsSpec):
    """Jitted ``predict(theta, starts, drives)``: the windows' predicted packed frames, (W, horizon, H, W')."""
    import jax

    predict = _windows_predictor(spec)
    return jax.jit(lambda theta, starts, drives: predict(spec.laws(theta), starts, drives))


def window_links(window_starts: np.ndarray, horizon: int) -> tuple[tuple[int, int, int], ...]:
    """``(window, earlier window, frame k of its prediction)`` where a window starts on a frame another predicts."""
    links = []
    for w in range(1, len(window_starts)):
        for v in range(w - 1, -1, -1):
            k = int(window_starts[w] - window_starts[v])
            if 1 <= k <= horizon:
                links.append((w, v, k))
                break
    return tuple(links)


@functools.lru_cache(maxsize=8)
def subset_jacobian(spec: KineticsSpec, free: tuple[int, ...]):
    """Jitted ``jacobian(theta, ...)`` with respect to the parameters ``free`` only (the others held)."""
    residual, _ = residual_functions(spec)
    return _jacobian(residual, free)


def check_particles(labels: np.ndarray, min_pixels: int, source: str) -> None:
    """Refuse particles too small to carry a rate map (each needs ``min_pixels``)."""
    sizes = np.bincount(labels.ravel())[1:]
    small = np.flatnonzero(sizes < min_pixels)
    if small.size:
        raise InputError(f"{source}: particle(s) {', '.join(str(i + 1) for i in small[:5])} have fewer than "
                         f"{min_pixels} pixels ({sizes[small].min()} px); give larger particles, or --labels that "
                         "leave small ones out (0)")
