"""How real does the virtual performer look to a real face tracker?

MediaPipe FaceMesh (refined, 478 landmarks) runs on each full-lit frame of an OLAT dataset;
we report the fraction of frames with a face found and the distance of its landmarks to the
projected ground-truth landmarks, in units of the inter-ocular distance (iris centres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nervp.colour import percentile_exposure, to_srgb8
from nervp.store.olat import OLATDataset


@dataclass(frozen=True)
class TrackerAgreement:
    """detected: fraction of frames with a face; median_error_iod / p90: landmark distance to the
    truth over the detected frames, in inter-ocular distances; per_frame: (T,) median per frame
    (NaN where no face was found)."""

    detected: float
    median_error_iod: float
    p90_error_iod: float
    per_frame: np.ndarray

    def to_json(self) -> dict:
        return {"detected_fraction": self.detected, "median_landmark_error_iod": self.median_error_iod,
                "p90_landmark_error_iod": self.p90_error_iod}


def tracker_agreement(ds: OLATDataset, left_iris: int = 473, right_iris: int = 468) -> TrackerAgreement:
    """Run MediaPipe on the dataset's full-lit frames and compare with its `landmarks` array."""
    import mediapipe as mp

    truth = ds.read("landmarks")  # (T, 478, 2) pixels
    full = ds.read("full_lit")
    exp = percentile_exposure(full, target=0.85)
    errs = np.full(ds.n_frames, np.nan)
    all_err = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        for t in range(ds.n_frames):
            img = to_srgb8(full[t], exp)
            res = fm.process(img)
            if not res.multi_face_landmarks:
                continue
            lm = np.array([[p.x * ds.width, p.y * ds.height] for p in res.multi_face_landmarks[0].landmark])
            iod = np.linalg.norm(truth[t, left_iris] - truth[t, right_iris])
            e = np.linalg.norm(lm - truth[t], axis=1) / iod
            errs[t] = np.median(e)
            all_err.append(e)
    found = np.isfinite(errs)
    e = np.concatenate(all_err) if all_err else np.array([np.nan])
    return TrackerAgreement(float(found.mean()), float(np.nanmedian(errs)) if found.any() else float("nan"),
                            float(np.percentile(e, 90)), errs)
