"""Light-stage geometry and capture schedule."""

from nervp.lightstage.dome import (
           Dome,
           DomeConfig,
           build_dome,
           dome_from_arrays,
           dome_size,
           fibonacci_directions,
           load_dome_file,
           voronoi_solid_angles,
)
from nervp.lightstage.schedule import TRACKING, Schedule, ScheduleConfig, make_schedule

__all__ = ["Dome", "DomeConfig", "build_dome", "dome_from_arrays", "dome_size", "load_dome_file", "fibonacci_directions", "voronoi_solid_angles",
           "TRACKING", "Schedule", "ScheduleConfig", "make_schedule"]
