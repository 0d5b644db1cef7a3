"""Where driftline keeps its files under the work folder: one place that spells every folder.

>>> from pathlib import Path
>>> state_dir(Path("/srv/driftline")).as_posix(), predictions_dir(Path("/srv/driftline")).as_posix()
('/srv/driftline/state', '/srv/driftline/logs/predictions')
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["feedback_dir", "logs_dir", "predictions_dir", "state_dir"]


def state_dir(workdir: Path) -> Path:
    """Rollout, serving and loop state, and the timeline."""
    return Path(workdir) / "state"


def logs_dir(workdir: Path) -> Path:
    """The prediction and feedback logs (Parquet, partitioned by hour)."""
    return Path(workdir) / "logs"


def predictions_dir(workdir: Path) -> Path:
    return logs_dir(workdir) / "predictions"


def feedback_dir(workdir: Path) -> Path:
    return logs_dir(workdir) / "feedback"
