"""Triangle-mesh operations on batched vertex tensors: normals, edges, boundaries, subdivision.

Conventions: `verts` is (B, V, 3) float (metres in this project), `faces` is (F, 3) int64
vertex indices whose order is counter-clockwise seen from outside (the right-hand normal
points outward). Vertices that no triangle uses (the head model's iris points) are allowed
everywhere and are carried through unchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "Subdivision",
    "boundary_loops",
    "face_normals",
    "mesh_edges",
    "subdivide",
    "vertex_normals",
]


def _check_faces(faces: Tensor) -> None:
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3) vertex indices, got shape {tuple(faces.shape)}")


def face_normals(verts: Tensor, faces: Tensor) -> Tensor:
    """(B, F, 3) unnormalised face normals (length = 2 × triangle area) of `verts` (B, V, 3)."""
    _check_faces(faces)
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ValueError(f"verts must be (B, V, 3), got shape {tuple(verts.shape)}")
    v0, v1, v2 = (verts[:, faces[:, k]] for k in range(3))
    return torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)


def vertex_normals(verts: Tensor, faces: Tensor, eps: float = 1e-12) -> Tensor:
    """(B, V, 3) unit, area-weighted vertex normals of `verts` (B, V, 3) over `faces` (F, 3).

    Each vertex averages the normals of the triangles around it weighted by their area.
    Vertices that no triangle uses get the zero vector.
    """
    fn = face_normals(verts, faces)  # (B, F, 3), |n| = 2 area
    acc = torch.zeros_like(verts)
    for k in range(3):
        acc = acc.index_add(1, faces[:, k], fn)
    norm = acc.norm(dim=-1, keepdim=True)
    return torch.where(norm > eps, acc / norm.clamp_min(eps), torch.zeros_like(acc))


def mesh_edges(faces: Tensor) -> tuple[Tensor, Tensor]:
    """Unique undirected edges of a triangle list.

    Returns:
        edges: (E, 2) int64 vertex pairs with edges[:, 0] < edges[:, 1], sorted.
        face_edges: (F, 3) int64 index into `edges` of each triangle's edges
            (v0-v1, v1-v2, v2-v0).
    """
    _check_faces(faces)
    faces = faces.long()
    directed = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)
    undirected = directed.sort(dim=1).values
    edges, inverse = torch.unique(undirected, dim=0, return_inverse=True)
    return edges, inverse.reshape(-1, 3)


def boundary_loops(faces: Tensor) -> list[list[int]]:
    """Boundary loops of an oriented manifold triangle mesh, each an ordered vertex list.

    A boundary edge is used by one triangle; loops follow the triangles' own edge direction,
    so a hole in an outward-oriented mesh is walked clockwise seen from outside. Loops are
    returned longest first.
    """
    _check_faces(faces)
    f = faces.long().tolist()
    count: dict[tuple[int, int], int] = {}
    for a, b, c in f:
        for u, v in ((a, b), (b, c), (c, a)):
            key = (min(u, v), max(u, v))
            count[key] = count.get(key, 0) + 1
    nxt: dict[int, int] = {}
    for a, b, c in f:
        for u, v in ((a, b), (b, c), (c, a)):
            if count[(min(u, v), max(u, v))] == 1:
                if u in nxt:
                    raise ValueError(f"vertex {u} has two outgoing boundary edges (non-manifold)")
                nxt[u] = v
    loops = []
    seen: set[int] = set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop = [start]
        seen.add(start)
        v = nxt[start]
        while v != start:
            if v in seen or v not in nxt:
                raise ValueError("boundary edges do not form closed loops")
            loop.append(v)
            seen.add(v)
            v = nxt[v]
        loops.append(loop)
    return sorted(loops, key=len, reverse=True)


@dataclass(frozen=True)
class Subdivision:
    """A subdivided mesh whose vertices are a fixed linear map of the coarse vertices.

    The first `n_coarse` fine vertices correspond to the coarse vertices with the same index
    (moved by the smoothing rule, if any); new edge vertices follow. Any per-vertex quantity
    x (positions, colours, blendshape offsets) is carried by `fine = weights @ coarse`; every
    row of `weights` sums to 1, so affine functions of the positions are reproduced exactly.

    Attributes:
        faces: (F', 3) int64 triangles of the fine mesh, oriented like the coarse ones.
        weights: (V', V) float32 sparse COO matrix (coalesced), fine = weights @ coarse.
        n_coarse: V, the number of coarse vertices.
    """

    faces: Tensor
    weights: Tensor
    n_coarse: int

    @property
    def n_fine(self) -> int:
        return self.weights.shape[0]

    def apply(self, x: Tensor) -> Tensor:
        """Carry per-vertex values x (V, C) or (B, V, C) to the fine mesh: (V', C) / (B, V', C)."""
        if x.shape[-2] != self.n_coarse:
            raise ValueError(
                f"expected {self.n_coarse} coarse vertices on dim -2, got shape {tuple(x.shape)}"
            )
        w = self.weights.to(device=x.device, dtype=x.dtype)
        if x.ndim == 2:
            return w @ x
        b, v, c = x.shape
        flat = x.permute(1, 0, 2).reshape(v, b * c)
        return (w @ flat).reshape(-1, b, c).permute(1, 0, 2)

    def to(self, device: torch.device | str) -> Subdivision:
        return Subdivision(self.faces.to(device), self.weights.to(device), self.n_coarse)


def _dense_step(
    faces: list[list[int]], n: int, scheme: Literal["loop", "midpoint"]
) -> tuple[list[list[int]], dict[tuple[int, int], float], int]:
    """One 1-to-4 split. Returns fine faces, sparse weights {(row, col): w}, fine vertex count."""
    edge_id: dict[tuple[int, int], int] = {}
    opposite: dict[tuple[int, int], list[int]] = {}
    for a, b, c in faces:
        for u, v, w in ((a, b, c), (b, c, a), (c, a, b)):
            key = (min(u, v), max(u, v))
            if key not in edge_id:
                edge_id[key] = n + len(edge_id)
            opposite.setdefault(key, []).append(w)
    if any(len(o) > 2 for o in opposite.values()):
        raise ValueError(
            "subdivide needs a manifold mesh: an edge is used by more than 2 triangles"
        )

    weights: dict[tuple[int, int], float] = {}
    # New edge vertices.
    for (u, v), e in edge_id.items():
        opp = opposite[(u, v)]
        if scheme == "loop" and len(opp) == 2:
            for col, w in ((u, 3 / 8), (v, 3 / 8), (opp[0], 1 / 8), (opp[1], 1 / 8)):
                weights[(e, col)] = weights.get((e, col), 0.0) + w
        else:
            weights[(e, u)] = 0.5
            weights[(e, v)] = 0.5
    # Old vertices.
    neighbours: dict[int, set[int]] = {}
    boundary_nb: dict[int, set[int]] = {}
    for (u, v), opp in opposite.items():
        neighbours.setdefault(u, set()).add(v)
        neighbours.setdefault(v, set()).add(u)
        if len(opp) == 1:
            boundary_nb.setdefault(u, set()).add(v)
            boundary_nb.setdefault(v, set()).add(u)
    for i in range(n):
        if scheme == "midpoint" or i not in neighbours:
            weights[(i, i)] = 1.0
        elif i in boundary_nb:
            bn = sorted(boundary_nb[i])
            if len(bn) == 2:
                weights[(i, i)] = 3 / 4
                for j in bn:
                    weights[(i, j)] = 1 / 8
            else:  # a vertex where two boundary loops touch: keep it as a corner
                weights[(i, i)] = 1.0
        else:
            nb = sorted(neighbours[i])
            k = len(nb)
            beta = 3 / 16 if k == 3 else 3 / (8 * k)
            weights[(i, i)] = 1.0 - k * beta
            for j in nb:
                weights[(i, j)] = beta
    fine_faces = []
    for a, b, c in faces:
        ab = edge_id[(min(a, b), max(a, b))]
        bc = edge_id[(min(b, c), max(b, c))]
        ca = edge_id[(min(c, a), max(c, a))]
        fine_faces += [[a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca]]
    return fine_faces, weights, n + len(edge_id)


def _laplacian_smoothing(
    faces: list[list[int]], n: int, movable: range, lam: float
) -> dict[tuple[int, int], float]:
    """Sparse matrix of one uniform Laplacian smoothing step applied to `movable` vertices."""
    neighbours: dict[int, set[int]] = {}
    for a, b, c in faces:
        for u, v in ((a, b), (b, c), (c, a)):
            neighbours.setdefault(u, set()).add(v)
            neighbours.setdefault(v, set()).add(u)
    m: dict[tuple[int, int], float] = {(i, i): 1.0 for i in range(n)}
    for i in movable:
        nb = neighbours.get(i)
        if not nb:
            continue
        m[(i, i)] = 1.0 - lam
        for j in nb:
            m[(i, j)] = lam / len(nb)
    return m


def _to_sparse(entries: dict[tuple[int, int], float], shape: tuple[int, int]) -> Tensor:
    idx = torch.tensor(list(entries.keys()), dtype=torch.int64).T.reshape(2, -1)
    val = torch.tensor(list(entries.values()), dtype=torch.float64)
    return torch.sparse_coo_tensor(idx, val, shape, check_invariants=True).coalesce()


def subdivide(
    faces: Tensor,
    n_vertices: int,
    levels: int = 1,
    scheme: Literal["loop", "midpoint"] = "loop",
    smooth_steps: int = 0,
    smooth_lambda: float = 0.5,
) -> Subdivision:
    """Subdivide a triangle mesh `levels` times (each triangle into 4) as a fixed linear map.

    Args:
        faces: (F, 3) int64 oriented triangles over `n_vertices` vertices.
        n_vertices: V, the number of coarse vertices (unused ones are kept as identity rows).
        levels: number of 1-to-4 splits.
        scheme: "loop" — Loop's approximating rules (interior edge 3/8, 3/8, 1/8, 1/8;
            vertex 1 - kβ, β = 3/(8k), or 3/16 for k = 3; boundary edges split at the midpoint
            and boundary vertices 3/4, 1/8, 1/8 so holes keep their outline); coarse vertices
            move. "midpoint" — interpolating: coarse vertices stay where they are and new
            vertices sit at edge midpoints, then `smooth_steps` uniform Laplacian smoothing steps
            (weight `smooth_lambda`) move only the new vertices, so landmarks stay exact.
        smooth_steps: Laplacian steps per level after a midpoint split (ignored for "loop").

    Returns:
        A `Subdivision` with the fine triangles and the (V', V) weight matrix.
    """
    _check_faces(faces)
    if scheme not in ("loop", "midpoint"):
        raise ValueError(f"scheme must be 'loop' or 'midpoint', got {scheme!r}")
    if levels < 0:
        raise ValueError(f"levels must be >= 0, got {levels}")
    f = faces.long().tolist()
    n = n_vertices
    with warnings.catch_warnings():  # torch's sparse products warn that CSR is in beta
        warnings.simplefilter("ignore", UserWarning)
        return _subdivide(f, n, levels, scheme, smooth_steps, smooth_lambda)


def _subdivide(
    f: list[list[int]],
    n_vertices: int,
    levels: int,
    scheme: Literal["loop", "midpoint"],
    smooth_steps: int,
    smooth_lambda: float,
) -> Subdivision:
    n = n_vertices
    total = torch.eye(n, dtype=torch.float64).to_sparse().coalesce()
    for _ in range(levels):
        f_new, entries, n_new = _dense_step(f, n, scheme)
        step = _to_sparse(entries, (n_new, n))
        if scheme == "midpoint":
            for _ in range(smooth_steps):
                smooth = _to_sparse(
                    _laplacian_smoothing(f_new, n_new, range(n, n_new), smooth_lambda),
                    (n_new, n_new),
                )
                step = torch.sparse.mm(smooth, step).coalesce()
        total = torch.sparse.mm(step, total).coalesce()
        f, n = f_new, n_new
    weights = total.to(torch.float32).coalesce()
    return Subdivision(torch.tensor(f, dtype=torch.int64).reshape(-1, 3), weights, n_vertices)
