"""How many documents to hand a worker at once. Moving a job between processes costs a fraction of
a millisecond, more than a tiny document takes to process, so short jobs travel in batches; a long
job travels alone so that one slow document never holds others back. Adapted as the run goes."""

from __future__ import annotations

TARGET_BATCH_S = 0.05  # about this much work per batch: round trips stay a small share, tails short
MAX_BATCH = 128
ALONE_BYTES = 1 << 20  # documents this large always travel alone
_SMOOTHING = 0.2


class BatchSizer:
    """Batch size from a moving average of recent jobs' worker time."""

    def __init__(self, target_s: float = TARGET_BATCH_S) -> None:
        self.target_s = target_s
        self.mean_job_s: float | None = None

    def observe(self, job_s: float) -> None:
        if self.mean_job_s is None:
            self.mean_job_s = job_s
        else:
            self.mean_job_s += _SMOOTHING * (job_s - self.mean_job_s)

    def size(self) -> int:
        """One until a job has been measured (nothing is known yet), then what fills the target time."""
        if self.mean_job_s is None:
            return 1
        return max(1, min(MAX_BATCH, int(self.target_s / max(self.mean_job_s, 1e-6))))

    @staticmethod
    def travels_alone(size_bytes: int) -> bool:
        return size_bytes >= ALONE_BYTES
