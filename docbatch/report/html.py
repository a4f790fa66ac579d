"""The run report as one self-contained HTML file: inline SVG charts, tables, a searchable failures
table. No script, font or style is fetched from anywhere, so it opens offline."""

from __future__ import annotations

from html import escape

from docbatch.report.model import RunReport, TimelinePoint
from docbatch.report.stats import memory_wait

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{padding:3px 8px;border-bottom:1px solid #eee;
text-align:right}td:first-child,th:first-child{text-align:left}.fail td{vertical-align:top}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}
.card b{display:block;font-size:1.4em}.ok{color:#1a7f37}.bad{color:#c62828}svg{background:#fafafa}
input{padding:4px 8px;width:20em}.msg{text-align:left;font-family:monospace;font-size:12px}
"""
_FILTER = """
document.getElementById('q').addEventListener('input',function(e){var q=e.target.value.toLowerCase();
document.querySelectorAll('#failures tbody tr').forEach(function(r){
r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
"""


def line_chart(points: list[tuple[float, float]], title: str, unit: str, width: int = 520, height: int = 200) -> str:
    """An SVG line chart with its maximum marked; an empty chart says so instead of drawing nothing."""
    left, bottom, top, right = 50, 25, 20, 10
    header = f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}">'
    label = f'<text x="{left}" y="14" font-size="12">{escape(title)}</text>'
    if len(points) < 2:
        return f'{header}{label}<text x="{left}" y="{height // 2}" font-size="12">not enough samples</text></svg>'
    max_x = max(x for x, _ in points) or 1.0
    max_y = max(y for _, y in points) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def place(x: float, y: float) -> str:
        return f"{left + x / max_x * plot_w:.1f},{top + plot_h - y / max_y * plot_h:.1f}"

    line = " ".join(place(x, y) for x, y in points)
    axes = (
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 4}" font-size="11" text-anchor="end">{max_y:.3g}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>'
        f'<text x="{left + plot_w}" y="{height - 6}" font-size="11" text-anchor="end">{max_x:.0f} s</text>'
        f'<text x="{left + 4}" y="{height - 6}" font-size="11">{escape(unit)}</text>'
    )
    return f'{header}{label}{axes}<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{line}"/></svg>'


def _table(headers: list[str], rows: list[list[str]], attributes: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell for cell in row) + "</tr>" for row in rows)
    return f"<table {attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: object, css: str = "") -> str:
    return f'<td class="{css}">{escape(str(value))}</td>' if css else f"<td>{escape(str(value))}</td>"


def render_html(report: RunReport) -> str:
    """The run report as one self-contained HTML page (no external assets): cards, charts over time,
    stage and type tables, the slowest documents and a filterable list of failures."""
    resources = report.resources
    waited = memory_wait(resources.throttled_s, report.wall_s, resources.throttle_events)
    bottleneck = (
        f"<p><b>Bottleneck:</b> {escape(report.bottleneck.reason)}</p>" if report.bottleneck is not None else ""
    )
    if waited:
        bottleneck += f'<p id="memory-wait"><b>Waiting for memory:</b> {escape(waited)}</p>'
    title = f"docbatch run {report.run_id}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(report.status)} (exit {report.exit_code}) &middot; started {escape(report.started_at)} &middot; "
        f'<code>{escape(" ".join(report.command))}</code></p><div class="cards">{_cards(report, waited)}</div>'
        f"<h2>Over time</h2>{_charts(report)}"
        f"<h2>Where the time goes</h2>{bottleneck}{_stage_table(report)}<h2>By type</h2>{_type_table(report)}"
        f"<h2>Slowest documents</h2>{_slowest_table(report)}"
        f'<h2>Failures ({len(report.failures)})</h2><input id="q" placeholder="filter failures" '
        f'aria-label="filter failures">{_failure_table(report)}<script>{_FILTER}</script></body></html>\n'
    )


def _cards(report: RunReport, waited: str | None) -> str:
    counts = report.counts
    return "".join(
        f'<div class="card"><span>{escape(name)}</span><b class="{css}">{value}</b></div>'
        for name, value, css in (
            ("succeeded", counts.succeeded, "ok"),
            ("failed + dead", counts.failed + counts.dead, "bad" if counts.failed + counts.dead else ""),
            ("skipped", counts.skipped, ""),
            ("not done", counts.cancelled + counts.pending, ""),
            ("documents/s", f"{report.throughput.documents_per_s:.1f}", ""),
            ("MB/s", f"{report.throughput.megabytes_per_s:.2f}", ""),
            ("wall", f"{report.wall_s:.1f} s", ""),
            *((("waited for memory", f"{report.resources.throttled_s:.1f} s", ""),) if waited else ()),
        )
    )


def _charts(report: RunReport) -> str:
    """Throughput and the workers' memory over the run."""
    # The run starts at zero: the charts begin there rather than at the first sample.
    start = TimelinePoint(elapsed_s=0, finished=0, processed=0, bytes_done=0, active=0, workers_rss_bytes=0)
    timeline = [start, *report.timeline]

    # Documents processed, not skipped: a resumed run's skips take no work and would hide the real rate.
    def done(point: TimelinePoint) -> int:
        return point.finished if point.processed is None else point.processed

    rates = [
        (b.elapsed_s, (done(b) - done(a)) / max(b.elapsed_s - a.elapsed_s, 1e-9))
        for a, b in zip(timeline, timeline[1:], strict=False)
    ]
    memory = [(point.elapsed_s, point.workers_rss_bytes / 2**20) for point in timeline]
    return f"{line_chart(rates, 'throughput', 'documents/s')} {line_chart(memory, 'memory of the workers', 'MiB')}"


def _stage_table(report: RunReport) -> str:
    stage_total = sum(stage.total for stage in report.stages.values()) or 1.0
    return _table(
        ["stage", "count", "mean s", "p50 s", "p95 s", "p99 s", "max s", "share of job time"],
        [
            [_td(name), _td(d.count), _td(f"{d.mean:.4f}"), _td(f"{d.p50:.4f}"), _td(f"{d.p95:.4f}"),
             _td(f"{d.p99:.4f}"), _td(f"{d.max:.4f}"), _td(f"{d.total / stage_total:.0%}")]
            for name, d in report.stages.items()
        ],
    )  # fmt: skip


def _type_table(report: RunReport) -> str:
    return _table(
        ["type", "succeeded", "failed", "skipped", "MB", "pages"],
        [
            [_td(kind), _td(row.succeeded), _td(row.failed), _td(row.skipped), _td(f"{row.bytes / 1e6:.2f}"),
             _td(row.pages)]
            for kind, row in report.by_type.items()
        ],
    )  # fmt: skip


def _slowest_table(report: RunReport) -> str:
    return _table(
        ["document", "seconds", "type", "bytes"],
        [[_td(s.source_id), _td(f"{s.duration_s:.3f}"), _td(s.kind or ""), _td(s.size)] for s in report.slowest],
    )


def _failure_table(report: RunReport) -> str:
    return _table(
        ["document", "state", "kind", "attempts", "message"],
        [
            [_td(f.source_id), _td(f.state), _td(f.error_kind), _td(f.attempts), _td(f.message, "msg")]
            for f in report.failures
        ],
        'id="failures" class="fail"',
    )
