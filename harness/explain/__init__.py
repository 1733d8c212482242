"""Why an output differs: the Hive-to-Spark catalogue, and the tools that read code with it.

- ``catalogue``: the semantic differences between the legacy platform (Hive 2.x, Spark 2.x
  on HDInsight) and Spark 4, kept as data (``catalogue.yaml``), one rule each.
- ``lint``: finds the catalogue's constructs in a model's SQL before it runs.
- ``lineage``: which output columns each finding feeds, through the tables steps share.
- ``attribute``: ranks the causes of a failing column by evidence (lineage and numbers).
- ``determinism``: runs a model twice under different physical plans to find columns
  that the model itself computes nondeterministically.
"""
