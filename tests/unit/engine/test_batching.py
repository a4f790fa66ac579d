from docbatch.engine.batching import MAX_BATCH, TARGET_BATCH_S, BatchSizer
from docbatch.engine.jobs import _job_spans
from docbatch.models import JobResult, JobState


def test_batches_start_single_then_fill_the_target_time() -> None:
    sizer = BatchSizer()
    assert sizer.size() == 1  # nothing measured yet
    for _ in range(50):
        sizer.observe(0.0005)
    assert sizer.size() == round(TARGET_BATCH_S / 0.0005)
    for _ in range(50):
        sizer.observe(2.0)  # long jobs travel alone
    assert sizer.size() == 1
    for _ in range(50):
        sizer.observe(0.0)
    assert sizer.size() == MAX_BATCH
    assert BatchSizer.travels_alone(5 << 20) and not BatchSizer.travels_alone(10_000)


def _result(started: float, finished: float) -> JobResult:
    return JobResult(source_id="x", state=JobState.SUCCEEDED, started_at=started, finished_at=finished)


def test_job_spans_add_up_to_the_batch_and_keep_worker_measurements() -> None:
    spans = _job_spans([_result(10.0, 10.5), _result(10.5, 11.5)], batch_s=2.0)
    assert spans == [1.0, 1.0]  # the first carries the hand-over (0.5 s)
    # A job without a measurement (its worker crashed) takes the unexplained rest.
    crashed = JobResult(source_id="y", state=JobState.FAILED)
    spans = _job_spans([_result(10.0, 10.5), crashed], batch_s=3.0)
    assert spans == [0.5, 2.5]
    assert abs(sum(_job_spans([_result(1.0, 1.2)] * 3, batch_s=0.5)) - 0.6) < 1e-9  # never shrinks measured time
