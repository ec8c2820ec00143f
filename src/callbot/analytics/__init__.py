"""The managers' statistics: dashboard figures, per-day summaries, exports.

Modules, each importing only those listed before it (no cycle):
- `periods`: local days of the commune and their UTC bounds (`Period`, `LOCAL_TZ`).
- `sql_expressions`: SQL for SQLite and PostgreSQL alike (local day, hour bucket, durations,
  histogram buckets) and a period's filters on calls and turns.
- `histograms`: bucketed durations/latencies and their percentiles (`Distribution`).
- `day_summary`: one day's additive figures for one filter key (`DaySummary`) and its stored form.
- `summarise`: per-day summaries computed from the calls.
- `rollups`: storing past days' summaries, keeping them fresh, reading them back.
- `utterances`: what callers said that the bot did not understand, grouped by similarity.
- `figures`: the figures of a period (`compute` → `Figures`), from the summaries.
- `exports`: the figures as JSON (`callbot stats --json`) and YAML examples for flows/.
- `cli`: `callbot stats`.
The live SQL reference the summaries are tested against is tests/dashboard/oracle.py.
"""
