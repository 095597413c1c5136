"""Pictures of capture processing for docs/CAPTURE.md (written by bench_capture.py --pictures).

- capture_alignment.png: one set of a moving performer, four LEDs (rows): ground truth at
  the middle instant, naive unaligned image, aligned image, their errors x8, and the
  confidence mask; face crop, sRGB display of linear radiance.
- capture_schedule.png: the capture timing of paper Fig. 14 as nervp runs it: tracking
  frames, the LED of each OLAT image, overlapping sets and how often each image is reused.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nervp.capture import CaptureConfig, ExecConfig, capture  # noqa: E402
from nervp.capture.align import develop  # noqa: E402
from nervp.colour import to_srgb8  # noqa: E402
from nervp.lightstage import ScheduleConfig, make_schedule  # noqa: E402
from nervp.store.olat import load_olat  # noqa: E402
from nervp.store.raw import load_raw  # noqa: E402
from nervp.viz.images import grid, label, save_png  # noqa: E402


def _pick_leds(direction: np.ndarray) -> list[tuple[int, str]]:
    """Front, two side and top LEDs (world: +z toward the camera, +y up)."""
    return [(int(np.argmax(direction[:, 2])), "front"), (int(np.argmax(direction[:, 0] + 0.3 * direction[:, 2])), "side"),
            (int(np.argmin(direction[:, 0] - 0.3 * direction[:, 2])), "other side"), (int(np.argmax(direction[:, 1])), "top")]


def alignment_picture(stream: Path, tmp: Path, out: Path, set_index: int = 1) -> None:
    raw = load_raw(stream)
    ds = load_olat(capture(stream, tmp / "pic.olat", CaptureConfig(), ExecConfig(workers=1), overwrite=True).out)
    truth = raw.truth().frame(set_index)
    t = int(np.nonzero(ds.read("source_middle") == raw.small("sets_middle")[set_index])[0][0])
    aligned, conf = ds.read("olat", t).astype(np.float32), ds.read("confidence", t).astype(np.float32)
    src, gain = ds.read("source_olat", t), raw.small("gain")
    m = raw.manifest
    lo, hi = truth.landmarks.min(0), truth.landmarks.max(0)  # face box (x, y) plus a margin
    c, half = (lo + hi) / 2, 0.6 * float((hi - lo).max())
    x0, y0 = (max(int(v - half), 0) for v in c)
    x1, y1 = min(int(c[0] + half), raw.width), min(int(c[1] + half), raw.height)
    peak = 1.0 / float(np.median(gain[src]))
    rows = []
    for led, name in _pick_leds(raw.dome.direction):
        naive = develop(raw.image(int(src[led])), raw.bayer, m["black_level"], m["white_level"], float(gain[src[led]]))
        ref = truth.olat[led]
        exp = 0.8 / max(np.percentile(ref[truth.alpha > 0.5], 99.5), 1e-8)
        crop = (slice(y0, y1), slice(x0, x1))

        def err(img, ref=ref, crop=crop):
            e = np.abs(img - ref).mean(-1)[crop] / peak * 8
            return (np.clip(e, 0, 1)[..., None].repeat(3, -1) * 255).astype(np.uint8)

        tiles = [label(to_srgb8(ref[crop], exp), f"truth LED {led} ({name})"),
                 label(to_srgb8(naive[crop], exp), "naive"), label(to_srgb8(aligned[led][crop], exp), "aligned"),
                 label(err(naive), "|naive-truth| x8"), label(err(aligned[led]), "|aligned-truth| x8"),
                 label((np.clip(conf[led][crop], 0, 1)[..., None].repeat(3, -1) * 255).astype(np.uint8), "confidence")]
        rows += [np.kron(tl, np.ones((2, 2, 1), np.uint8)) if tl.shape[0] < 160 else tl for tl in tiles]
    save_png(out, grid(rows, cols=6))
    print(f"wrote {out}")


def _nth(k: int) -> str:
    return {1: "", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def schedule_picture(out: Path, n_lights: int = 96, stride: int = 3, n_sets: int = 4) -> None:
    s = make_schedule(n_sets, n_lights, ScheduleConfig(set_stride=stride))
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    idx = np.arange(s.n_images)
    olat = s.pattern >= 0
    ax.scatter(idx[olat], s.pattern[olat], s=3, c=s.pattern[olat], cmap="viridis", label="OLAT image (LED index)")
    for k, m in enumerate(idx[~olat]):
        ax.axvline(m, color="0.8", lw=0.6, zorder=0, label="tracking frame (all LEDs)" if k == 0 else None)
    colours = plt.cm.tab10(np.arange(n_sets))
    for k in range(n_sets):
        lo, hi, mid = s.sets_olat[k].min(), s.sets_olat[k].max(), s.sets_middle[k]
        yb = -12 - 9 * k
        ax.plot([lo, hi], [yb, yb], color=colours[k], lw=4, solid_capstyle="butt")
        ax.plot([mid], [yb], "v", color="k", ms=6)
        ax.text(hi + 2, yb, f"set {k}: middle image {mid}, t = {s.time[mid] * 1e3:.0f} ms", va="center", fontsize=8)
    ax.set_ylim(-14 - 9 * n_sets, n_lights + 2)
    ax.set_yticks(range(0, n_lights + 1, 20))
    ax.set_ylabel("LED fired")
    ax.set_title(f"{n_lights} LEDs at {s.fps:g} fps, a tracking frame every {s.tracking_every} images; "
                 f"a set on every {_nth(stride)} tracking frame = {s.output_fps:.1f} sets/s (paper Fig. 14)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax2.step(idx, s.reuse_counts(), where="mid", color="k", lw=1)
    ax2.set_ylabel("sets using\nthe image")
    ax2.set_xlabel("raw image index (1 ms apart); flows run between consecutive tracking frames and are "
                   "chained to each set's middle")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")
