"""`nervp score` and `nervp benchmark`: scoring any method's predictions, and the Table-1 benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from nervp.progress import console


@dataclass
class Score:
    """Score another method's relit predictions against a virtual-stage dataset's ground truth
    with the metrics of `nervp evaluate` (PSNR, SSIM, MAE, temporal change ratio). PRED holds
    one folder per lighting and one linear EXR or 16-bit PNG per frame in it:
    PRED/<lighting>/<frame:05d>.exr (docs/BENCHMARK.md)."""

    pred: tyro.conf.Positional[Path]
    """Predictions folder: PRED/<lighting>/<frame:05d>.exr or .png."""
    dataset: tyro.conf.Positional[Path]
    """The OLAT dataset with the ground truth (e.g. written by `nervp simulate`)."""
    light: tuple[str, ...] = ()
    """Lightings to score (procedural names, looks, .hdr/.exr files by stem, ring-0 ... ring-7);
    default: every folder in PRED."""
    frames: tuple[int, ...] = ()
    """Frames that must be present and are scored (default: those in the folders)."""
    png_scale: float = 1.0
    """Linear value of PNG code 65535 (16-bit PNG predictions only)."""
    out: Path | None = None
    """JSON report path (default PRED/score.json)."""
    overwrite: bool = False
    """Replace an existing report."""

    def run(self) -> None:
        from nervp.errors import ConfigError
        from nervp.evaluate.score import score_predictions
        from nervp.fileio import write_json_atomic
        from nervp.store.outputs import Output, claim, existing_files

        if not (self.png_scale > 0 and self.png_scale < float("inf")):
            raise ConfigError(f"--png-scale must be a positive finite number, got {self.png_scale}")
        out = self.out or self.pred / "score.json"
        with claim([Output(out, "json")], self.overwrite, [self.dataset, *existing_files(self.light)], "score"):
            rep = score_predictions(self.pred, self.dataset, self.light or None, self.frames or None, self.png_scale)
            write_json_atomic(out, rep)
        for name, m in rep["lightings"].items():
            console.print(f"{name:>14}: PSNR {m['psnr_db']:.2f} dB, SSIM {m['ssim']:.3f}, MAE {m['mae']:.4f}, "
                          f"temporal change ratio {m['temporal_change_ratio']}", highlight=False)
        o = rep["overall"]
        console.print(f"frames {rep['frames']}: overall PSNR {o['psnr_db']:.2f} dB, SSIM {o['ssim']:.3f}, "
                      f"MAE {o['mae']:.4f}; wrote {out}", highlight=False)


@dataclass
class Benchmark:
    """The paper's Table 1 on the virtual light stage: simulate each performer of a suite, train
    nervp and the baselines (DVP, DVP + MTP colour transfer, DVP + SIPR, DVP + best gain) on the same frames,
    score held-out frames (self) and a second performer driving the target (cross-identity) under
    the same lightings with `nervp evaluate`'s metric. Writes OUT/results.json, table.md,
    figure.png; resumable (each performer x method is a unit of work)."""

    out: tyro.conf.Positional[Path]
    """Output folder (new, empty, or an earlier run of the same suite: resumed)."""
    suite: str = "quick"
    """quick (2 performers at 64², < 15 min on 2 CPU cores), cpu (5 at 128², about an hour on 2 cores),
    standard (5 at 256², GPU-sized) or paper."""
    seeds: tuple[int, ...] = ()
    """Target performer seeds (default: the suite's)."""
    light: tuple[str, ...] = ()
    """Lightings (ring-0 ... ring-7, procedural names, looks; default: the suite's)."""
    methods: tuple[str, ...] = ()
    """Methods among nervp, dvp, mtp, sipr, unrelit (default: all)."""
    steps: int | None = None
    """Training steps of every trained method (default: the suite's)."""
    frames: int | None = None
    """Target frames per performer (default: the suite's)."""
    params: str | None = None
    """fit (tracked, the default of every suite) or truth (the simulator's parameters: the gap)."""
    device: str = "cpu"
    """cpu (deterministic results), auto, cuda or cuda:N."""
    workers: int = 1
    """Performers at once on this machine, each in a local Dask worker process (torch threads: the
    cores shared out); 1 runs them one after another in this process."""
    scheduler: str | None = None
    """A Dask distributed scheduler (e.g. tcp://10.0.0.5:8786): each performer is a task there;
    its workers must see OUT at the same path."""

    def resolved(self):
        """The suite with this command's overrides."""
        import dataclasses as dc

        from nervp.errors import ConfigError
        from nervp.presets import SUITES

        if self.suite not in SUITES:
            raise ConfigError(f"unknown suite {self.suite!r} (--suite): choose one of {', '.join(SUITES)}")
        s = SUITES[self.suite]
        if self.params not in (None, "fit", "truth"):
            raise ConfigError(f"--params must be fit or truth, got {self.params!r}")
        train = dc.replace(s.train, **{k: v for k, v in (("steps", self.steps), ("params", self.params))
                                       if v is not None})
        if self.steps is not None:
            train = dc.replace(train, ckpt_every=max(1, min(train.ckpt_every, self.steps)))
        sim = s.sim if self.frames is None else dc.replace(s.sim, frames=self.frames)
        over = {"seeds": self.seeds, "lightings": self.light, "methods": self.methods}
        return dc.replace(s, train=train, sim=sim, **{k: tuple(v) for k, v in over.items() if v})

    def run(self) -> None:
        from nervp.benchmark.run import run_benchmark
        from nervp.errors import ConfigError
        from nervp.store.outputs import output_lock

        suite = self.resolved()
        suite.validate()
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        self.out.absolute().parent.mkdir(parents=True, exist_ok=True)
        with output_lock(self.out, "benchmark"):
            run_benchmark(self.out, suite, self.device, log=lambda s: console.print(s, highlight=False),
                          workers=self.workers, scheduler=self.scheduler)
        console.print((self.out / "table.md").read_text(), highlight=False, soft_wrap=True)
        console.print(f"wrote {self.out / 'results.json'}, table.md and figure.png")
