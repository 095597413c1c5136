"""Light-stage geometry and capture schedule."""

from nervp.lightstage.dome import (
           Dome,
           DomeConfig,
           build_dome,
           fibonacci_directions,
           voronoi_solid_angles,
)
from nervp.lightstage.schedule import TRACKING, Schedule, ScheduleConfig, make_schedule

__all__ = ["Dome", "DomeConfig", "build_dome", "fibonacci_directions", "voronoi_solid_angles",
           "TRACKING", "Schedule", "ScheduleConfig", "make_schedule"]
