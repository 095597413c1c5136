"""Training the translator (paper section 3.3): runs, checkpoints, losses, the trainer.

`train_run` prepares and trains (or resumes) a run directory; `load_run` is the one loader
for finished runs, returning a `FinishedRun` whose `info` is the run's `RunInfo`.
"""

from nervp.train.config import TrainConfig
from nervp.train.run import FinishedRun, RunError, RunInfo, load_run, prepare_run, train_run

__all__ = ["FinishedRun", "RunError", "RunInfo", "TrainConfig", "load_run", "prepare_run", "train_run"]
