"""Rasterizer throughput: images per second over mesh size, resolution and batch.

Method (see STYLE.md section 9): fixed seeds and geometry; one warm-up call, then the
median of 5 timed calls (synchronised on GPU); peak resident memory per case
(Linux: VmHWM after resetting it through /proc/self/clear_refs; GPU: peak allocated).
The scene is a closed UV sphere whose silhouette fills ~60 % of the frame, seen by 1
camera or by 16 cameras around it (shadow-map style). The slow reference runs once
at 64 x 64 in the same process, so the stated speed-up is a same-machine ratio.
A last case is the lead's per-frame budget: one 256^2 view of a ~30k-triangle mesh
plus 96 shadow maps.

Run:  python benchmarks/bench_rasterizer.py [--device cuda] [--quick]
Writes benchmarks/results/rasterizer.json.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import statistics
import time
from pathlib import Path

import torch
from common import write_results

from nervp.render import make_camera, project, rasterize, rasterize_depth, rasterize_reference

OUT = Path(__file__).parent / "results" / "rasterizer.json"


def uv_sphere(n_lat: int, n_lon: int, radius: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed UV sphere with 2 * n_lon * (n_lat - 1) triangles."""
    theta = torch.linspace(0, math.pi, n_lat + 1)[1:-1]
    phi = torch.arange(n_lon) * (2 * math.pi / n_lon)
    st, ct = torch.sin(theta)[:, None], torch.cos(theta)[:, None]
    ring = torch.stack([st * torch.cos(phi), ct.expand(-1, n_lon), st * torch.sin(phi)], -1)
    verts = torch.cat(
        [torch.tensor([[0.0, 1.0, 0.0]]), ring.reshape(-1, 3), torch.tensor([[0.0, -1.0, 0.0]])]
    )
    ring_id = torch.arange((n_lat - 1) * n_lon).view(n_lat - 1, n_lon) + 1
    nxt = ring_id.roll(-1, dims=1)
    caps = [
        torch.stack([torch.zeros(n_lon, dtype=torch.long), nxt[0], ring_id[0]], 1),
        torch.stack([torch.full((n_lon,), len(verts) - 1), ring_id[-1], nxt[-1]], 1),
    ]
    a, b, c, d = ring_id[:-1], nxt[:-1], ring_id[1:], nxt[1:]
    quads = torch.stack([torch.stack([a, b, d], -1), torch.stack([a, d, c], -1)], 2)
    return verts * radius, torch.cat(caps + [quads.reshape(-1, 3)])


def cameras(batch: int, size: int, fill: float = 0.6, distance: float = 3.0):
    """`batch` cameras at `distance` radii from a unit sphere, framed so that its
    silhouette covers `fill` of the image."""
    g = torch.Generator().manual_seed(0)
    eye = torch.tensor([[0.3, 0.4, 1.0]]) if batch == 1 else torch.randn(batch, 3, generator=g)
    eye = torch.nn.functional.normalize(eye, dim=-1) * distance
    r_img = math.sqrt(fill / math.pi) * size  # silhouette radius in pixels
    tan_alpha = math.tan(math.asin(1.0 / distance))
    fov = 2 * math.degrees(math.atan(0.5 * size * tan_alpha / r_img))
    return make_camera(eye, torch.zeros(batch, 3), fov, size, size)


def peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with contextlib.suppress(OSError):  # resets VmHWM (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")


def peak_mib(device: torch.device) -> dict:
    out = {}
    if device.type == "cuda":
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["rss_peak_mib"] = int(line.split()[1]) / 1024
    except OSError:
        out["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def timed(fn, device: torch.device, repeats: int) -> dict:
    """Warm-up, then `repeats` calls: median wall time and median process CPU time.

    On a shared machine with one torch thread the CPU time is the better estimate of
    the uncontended wall time (waiting for a core is not counted)."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "median_s": statistics.median(wall),
        "cpu_median_s": statistics.median(cpu),
        "times_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="only the 20k mesh, no 512^2")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    torch.manual_seed(0)

    meshes = {"20k": uv_sphere(82, 123), "100k": uv_sphere(180, 280)}
    sizes = [128, 256, 512]
    if args.quick:
        meshes.pop("100k")
        sizes = [128, 256]
    results = []
    for name, (verts, faces) in meshes.items():
        faces_d = faces.to(device)
        for size in sizes:
            for batch in (1, 16):
                cam = cameras(batch, size).to(device)
                screen = project(verts.to(device).expand(batch, -1, -1), cam)
                modes = {"fragments": rasterize}
                if batch > 1:
                    modes["depth_only"] = rasterize_depth
                for mode, fn in modes.items():
                    peak_reset(device)
                    t = timed(
                        lambda fn=fn, s=screen, sz=size, f=faces_d: fn(s, f, sz, sz),
                        device,
                        args.repeats,
                    )
                    mem = peak_mib(device)
                    depth = rasterize_depth(screen, faces_d, size, size)
                    row = {
                        "mesh": name,
                        "triangles": int(faces.shape[0]),
                        "size": size,
                        "batch": batch,
                        "mode": mode,
                        **t,
                        "images_per_s": batch / t["median_s"],
                        "images_per_cpu_s": batch / t["cpu_median_s"],
                        "triangles_per_s": batch * faces.shape[0] / t["median_s"],
                        "coverage": float(torch.isfinite(depth).float().mean()),
                        **mem,
                    }
                    results.append(row)
                    print(
                        f"{name:>5} {size:4d}^2 x{batch:<3d} {mode:10s} "
                        f"{t['median_s'] * 1e3:8.1f} ms (cpu {t['cpu_median_s'] * 1e3:7.1f}) "
                        f"{row['images_per_s']:7.1f} img/s  cover {row['coverage']:.2f}  "
                        f"rss {row.get('rss_peak_mib', 0):.0f} MiB",
                        flush=True,
                    )

    # the slow reference, once, at 64^2 on the 20k mesh (same machine, same run)
    verts, faces = meshes["20k"]
    screen = project(verts.expand(1, -1, -1), cameras(1, 64))
    t0, c0 = time.perf_counter(), time.process_time()
    ref = rasterize_reference(screen, faces, 64, 64)
    t_ref, c_ref = time.perf_counter() - t0, time.process_time() - c0
    fast = timed(lambda: rasterize(screen, faces, 64, 64), torch.device("cpu"), args.repeats)
    same = bool(torch.equal(rasterize(screen, faces, 64, 64).face_idx, ref.face_idx))
    reference = {
        "mesh": "20k",
        "size": 64,
        "device": "cpu",
        "reference_s": t_ref,
        "reference_cpu_s": c_ref,
        "fast_s": fast["median_s"],
        "fast_cpu_s": fast["cpu_median_s"],
        "speedup": t_ref / fast["median_s"],
        "speedup_cpu_time": c_ref / fast["cpu_median_s"],
        "identical_output": same,
    }
    print(
        f"reference 64^2: {t_ref:.2f} s, fast {fast['median_s'] * 1e3:.1f} ms: "
        f"speed-up {reference['speedup']:.0f}x (cpu time {reference['speedup_cpu_time']:.0f}x), "
        f"identical={same}"
    )

    # the lead's per-frame budget: 256^2 view (~30k triangles) + 96 shadow maps
    verts, faces = uv_sphere(100, 150)  # 29,700 triangles
    faces_d = faces.to(device)
    frame = []
    for smap in (128, 160, 192):
        view = project(verts.to(device)[None], cameras(1, 256).to(device))
        lights = project(verts.to(device).expand(96, -1, -1), cameras(96, smap).to(device))

        def work(view=view, lights=lights, smap=smap) -> None:
            rasterize(view, faces_d, 256, 256)
            rasterize_depth(lights, faces_d, smap, smap)

        peak_reset(device)
        t = timed(work, device, args.repeats)
        frame.append(
            {
                "triangles": int(faces.shape[0]),
                "view": 256,
                "shadow_maps": 96,
                "shadow_size": smap,
                **t,
                **peak_mib(device),
            }
        )
        print(
            f"frame: 256^2 view + 96 x {smap}^2 shadow maps, {faces.shape[0]} triangles: "
            f"{t['median_s'] * 1e3:.0f} ms (cpu {t['cpu_median_s'] * 1e3:.0f} ms)",
            flush=True,
        )

    method = (
        f"warm-up + median of {args.repeats} (synchronised on GPU); wall and process CPU time; "
        "UV sphere filling ~60% of the frame; batch 16 = cameras around it; ratios: the fast "
        "rasterizer against the slow reference at 64x64 in the same process"
    )
    ratios = {k: reference.pop(k) for k in ("speedup", "speedup_cpu_time")}
    write_results(args.out, method=method, results={"device": str(device), "rows": results, "reference": reference,
                                                    "frame_budget": frame}, ratios=ratios,
                  machine_extra={"loadavg_at_start": load_before, "loadavg_1_5_15": os.getloadavg()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
