"""The benchmark's outputs from its finished units: results.json, table.md, figure.png, timings.json.

results.json (deterministic: no times in it):
  {"suite": {...}, "tracks": {track: {method: {
      "mean": {"psnr_db": [mean, std], "ssim": [...], "mae": [...], "temporal_change_ratio": [...]},
      "per_performer": {seed: {"overall": {...}, "lightings": {name: {...}}}},
      "per_lighting": {name: {"psnr_db": [mean, std], ...}}}}}}
The mean is over performers of each performer's overall score; the std is over performers and
lightings (each lighting's mean over the frames), so it shows how much the lighting matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nervp.benchmark.suite import LABELS, TRACKS, Suite
from nervp.fileio import write_json_atomic, write_text_atomic

KEYS = ("psnr_db", "ssim", "mae", "temporal_change_ratio")


def _ms(values: list[float]) -> list[float]:
    v = [x for x in values if x is not None]
    return [float(np.mean(v)), float(np.std(v))] if v else [float("nan"), float("nan")]


def _method(scores: dict[int, dict], track: str) -> dict:
    per = {str(s): {"overall": sc[track]["overall"], "lightings": sc[track]["lightings"]} for s, sc in scores.items()}
    lights = list(next(iter(per.values()))["lightings"])
    rows = [p["lightings"][n] for p in per.values() for n in lights]
    mean = {k: [_ms([p["overall"][k] for p in per.values()])[0], _ms([r[k] for r in rows])[1]]
            for k in KEYS[:3]}
    mean["temporal_change_ratio"] = _ms([r["temporal_change_ratio"] for r in rows])
    per_l = {n: {k: _ms([p["lightings"][n][k] for p in per.values()]) for k in KEYS} for n in lights}
    return {"mean": mean, "per_performer": per, "per_lighting": per_l}


def collect(out: Path, suite: Suite) -> dict:
    tracks: dict = {t: {} for t in TRACKS}
    for m in suite.methods:
        scores = {s: json.loads((out / "units" / str(s) / m / "score.json").read_text()) for s in suite.seeds}
        for t in TRACKS:
            tracks[t][m] = _method(scores, t)
    return {"suite": suite.to_json(), "tracks": tracks}


def _timings(out: Path, suite: Suite) -> dict:
    t: dict = {}
    for m in suite.with_methods():
        rec = [json.loads(p.read_text()) for s in suite.seeds if (p := out / "units" / str(s) / m / "timing.json").is_file()]
        per = [r.get("predict_s_per_frame", r.get("transfer_s_per_frame")) for r in rec]
        t[m] = {"unit_wall_s": [r["unit_wall_s"] for r in rec], "s_per_frame": [x for x in per if x is not None]}
    return t


def _fmt(v: list[float], digits: int) -> str:
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if np.isfinite(v[0]) else "–"


def table(res: dict, timings: dict) -> str:
    suite = res["suite"]
    lines = [f"# nervp benchmark — suite `{suite['name']}` v{suite['version']}", "",
             f"{len(suite['seeds'])} performer(s) {suite['seeds']}, {suite['sim']['size']}², "
             f"{suite['sim']['frames']} target frames (held-out fraction {suite['train']['val_fraction']}), "
             f"{suite['source_frames']} driving frames; lightings {', '.join(suite['lightings'])}; "
             f"nervp and DVP trained {suite['train']['steps']} steps, "
             + ("tracked parameters (`--params fit`)." if suite["train"]["params"] == "fit"
                else f"`--params {suite['train']['params']}`."), ""]
    for track, title in (("self", "Self: held-out frames of the target's own capture (Table 1)"),
                         ("cross", "Cross-identity: a second performer drives the target")):
        lines += [f"## {title}", "", "| method | PSNR (dB) ↑ | SSIM ↑ | MAE ↓ | flicker (1 = truth) | s / frame |",
                  "|---|---|---|---|---|---|"]
        for m, r in res["tracks"][track].items():
            sp = timings.get(m, {}).get("s_per_frame", [])
            extra = (timings.get("dvp", {}).get("s_per_frame", []) if m in ("mtp", "sipr", "unrelit") else [])
            spf = f"{np.mean(sp) + (np.mean(extra) if extra else 0):.3f}" if sp else "–"
            mm = r["mean"]
            lines.append(f"| {LABELS[m]} | {_fmt(mm['psnr_db'], 2)} | {_fmt(mm['ssim'], 3)} | {_fmt(mm['mae'], 4)} | "
                         f"{_fmt(mm['temporal_change_ratio'], 2)} | {spf} |")
        lines.append("")
    lines += ["Mean over performers; ± is the standard deviation over performers and lightings. Flicker: "
              "mean absolute frame-to-frame change of the relit prediction over that of the truth. "
              "s / frame: inference (and transfer) time per frame on this machine, not training.", ""]
    return "\n".join(lines)


def figure(out: Path, suite: Suite, path: Path) -> None:
    """Fig. 9's layout: one row per lighting (three of the suite's), truth then each method,
    the first performer's first held-out frame, one exposure per row (the truth's)."""
    from nervp.colour import percentile_exposure, to_srgb8
    from nervp.evaluate.score import lighting_folder, truth_relit
    from nervp.imaging.hdrio import read_exr
    from nervp.store.olat import load_olat
    from nervp.viz.images import grid, label, save_png

    seed = suite.seeds[0]
    units = out / "units" / str(seed)
    ds = load_olat(out / "data" / f"target_{seed}.olat")
    frame = json.loads((units / suite.methods[0] / "score.json").read_text())["self"]["frames"][0]
    pick = sorted({0, len(suite.lightings) // 2, len(suite.lightings) - 1})
    scale = max(1, 192 // ds.height)

    def up(img: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(img, scale, 0), scale, 1)

    tiles = []
    for k in pick:
        spec = suite.lightings[k]
        truth = truth_relit(ds, [frame], spec)[0]
        exp = percentile_exposure(truth)
        tiles.append(label(up(to_srgb8(truth, exp)), f"truth, {lighting_folder(spec)}"))
        for m in suite.methods:
            img = read_exr(units / m / "self" / lighting_folder(spec) / f"{frame:05d}.exr")
            own = m == "dvp"  # the full-lit frame, whatever the lighting: shown at its own exposure
            tiles.append(label(up(to_srgb8(img, percentile_exposure(img) if own else exp)),
                               "DVP full-lit" if own else LABELS[m]))
    save_png(path, grid(tiles, 1 + len(suite.methods)))


def write_report(out: Path, suite: Suite) -> dict:
    res = collect(out, suite)
    timings = _timings(out, suite)
    write_json_atomic(out / "results.json", res)
    write_json_atomic(out / "timings.json", timings)
    write_text_atomic(out / "table.md", table(res, timings))
    figure(out, suite, out / "figure.png")
    return res


__all__ = ["collect", "figure", "table", "write_report"]
