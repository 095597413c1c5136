"""Lighting from a photograph (docs/ESTIMATE.md): a photo's or video's lighting as the dome's
LED weights, by the shipped learned estimator or an order-2 SH baseline."""

from nervp.estimate.core import EstimateConfig, LightEstimate, estimate_light
from nervp.estimate.photo import Plate, load_plate

__all__ = ["EstimateConfig", "LightEstimate", "Plate", "estimate_light", "load_plate"]
