"""Reports over the typed run records and ``CompareResult.to_dict()``.

``records``: the run summary's one shape (typed records, derived statuses, the failing-column
rule); ``text``: the failure message a developer reads in pytest; ``summary``: the JSON
summary of a run; ``html``: the self-contained page for people. Renderers take records and
dicts, never Spark objects, so a report can be re-rendered from ``summary.json`` alone.
"""
