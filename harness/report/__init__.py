"""Reports over plain dicts (``CompareResult.to_dict()`` and the run summary).

``text``: the failure message a developer reads in pytest; ``summary``: the JSON summary
of a run; ``html``: the self-contained page for people. Renderers take dicts, never
Spark objects, so a report can be re-rendered from ``summary.json`` alone.
"""
