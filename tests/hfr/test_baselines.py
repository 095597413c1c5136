"""The high-frame-rate baselines (nervp.evaluate.hfr): known values on synthetic frames."""

import numpy as np

from nervp.evaluate.hfr import blend_frames, flow_frames, repeat_frames, silhouette_centroid


def _blob(cx: float, H: int = 48, W: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    g = np.exp(-((xs - cx) ** 2 + (ys - 24) ** 2) / (2 * 5.0 ** 2)) + 0.3 * np.exp(-((xs - cx - 6) ** 2) / 8)
    return np.repeat(g[..., None], 3, -1).astype(np.float32)


def test_repeat_and_blend_known_values():
    src = np.arange(4, dtype=np.float32)[:, None] * np.array([[1.0, 10.0]], np.float32)
    pos = np.array([0.0, 0.25, 0.5, 1.75, 3.0])
    np.testing.assert_array_equal(repeat_frames(src, pos)[:, 0], [0, 0, 1, 2, 3])  # nearest, halves up
    np.testing.assert_allclose(blend_frames(src, pos)[:, 1], 10 * pos, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(blend_frames(src, np.arange(4.0)), src)  # on the knots: the knots


def test_flow_interpolation_moves_a_blob_halfway():
    """A blob 8 px to the right between two frames: the flow-interpolated midpoint sits near the
    true midpoint (within 1 px), where blending leaves two half-bright blobs (centroid right, shape wrong)."""
    a, b = _blob(24.0), _blob(32.0)
    mid = flow_frames(np.stack([a, b]), np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(mid[0], a)
    truth = _blob(28.0)
    err_flow = np.abs(mid[1] - truth).mean()
    err_blend = np.abs(blend_frames(np.stack([a, b]), np.array([0.5]))[0] - truth).mean()
    assert err_flow < 0.5 * err_blend, (err_flow, err_blend)
    c = silhouette_centroid(mid[1:2, ..., 0])[0]
    assert abs(c[0] - silhouette_centroid(truth[None, ..., 0])[0, 0]) < 1.0


def test_silhouette_centroid_known_value():
    a = np.zeros((1, 8, 10), np.float32)
    a[0, 2:4, 6:8] = 1.0
    np.testing.assert_allclose(silhouette_centroid(a)[0], [6.5, 2.5])
