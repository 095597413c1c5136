"""What the parsing jobs report: typed summaries of `nervp track` and `nervp condition`.

Each report is a frozen dataclass; `to_json()` gives the plain values stored in a dataset's
manifest (the same keys `nervp inspect` and docs/PARSING.md show).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nervp.parse.normalize import NormReport


@dataclass(frozen=True)
class TrackSummary:
    """How the tracker did on a clip.

    Attributes:
        frames: frames in the clip. found: frames the tracker found a face in.
        found_fraction, valid_fraction: of all frames, found / usable (found or interpolated).
        methods: frames per way of finding the face (tracked, redetected, ...).
        gaps: [first, last] frame of each run of frames without a face.
        interpolated_frames: frames filled across a short gap.
        unfilled_frames: frames with no parameters of their own (gaps too long to fill).
        median_iod_px: median inter-ocular distance, pixels (None without a face).
    """

    frames: int
    found: int
    found_fraction: float
    valid_fraction: float
    methods: dict[str, int]
    gaps: tuple[tuple[int, int], ...]
    interpolated_frames: int
    unfilled_frames: int
    median_iod_px: float | None

    def to_json(self) -> dict:
        d = asdict(self)
        d["gaps"] = [list(g) for g in self.gaps]
        return d


@dataclass(frozen=True)
class FitSummary:
    """Head-model fit residuals, in inter-ocular distances (IOD) over the fitted frames."""

    fitted_frames: int
    median_residual_iod: float
    p90_residual_iod: float
    max_residual_iod: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrackSeconds:
    """Wall-clock seconds of each step of `nervp track`."""

    read: float
    track: float
    fit: float
    colour: float


@dataclass(frozen=True)
class TrackReport:
    """What `track_clip` did (stored as the face-parameters manifest's `summary`)."""

    tracking: TrackSummary
    fitting: FitSummary
    seconds: TrackSeconds

    def to_json(self) -> dict:
        return {"tracking": self.tracking.to_json(), "fitting": self.fitting.to_json(),
                "seconds": asdict(self.seconds)}

    def lines(self) -> list[str]:
        """The two lines `nervp track` prints."""
        tr, fi = self.tracking, self.fitting
        return [f"face found in {tr.found}/{tr.frames} frames ({100 * tr.found_fraction:.1f} %), "
                f"{tr.interpolated_frames} interpolated, {tr.unfilled_frames} without parameters of their own; "
                f"gaps {[list(g) for g in tr.gaps]}",
                f"fit: median residual {fi.median_residual_iod:.4f} IOD (p90 {fi.p90_residual_iod:.4f})"]


@dataclass(frozen=True)
class ConditionReport:
    """What `condition` did: frames and size (pixels) of the maps, seconds spent, and the
    eq. 6 normalisation (None for the target's own maps or without normalisation)."""

    frames: int
    width: int
    height: int
    seconds: float
    normalization: NormReport | None

    def lines(self) -> list[str]:
        """What `nervp condition` prints."""
        out = []
        if self.normalization is not None and self.normalization.guarded:
            out.append("dimensions with almost no spread in the source, only shifted: "
                       + ", ".join(self.normalization.guarded))
        return out + [f"{self.frames} frames at {self.width}x{self.height}"]


__all__ = ["ConditionReport", "FitSummary", "TrackReport", "TrackSeconds", "TrackSummary"]
