"""Paper-style reports from results JSON files: tables, plots and a browsable HTML page.

    python -m eval.report results/ --out report/

Inputs are ONLY ``results/<dataset>/<method>/<protocol>.json`` files (written by ``eval.run`` and
the sweeps; per-clip rows beside them as ``<protocol>.clips.jsonl``) and the paper's reported
numbers (``baselines.reported``). No metric is computed here: every number comes from a file.

Modules, one job each:
  inputs.py       load and check the results files (``ResultFile`` records)
  table_specs.py  the paper's Tables 1, 3, 4, 5, 6 as specs (``TABLES``) and the constants they share
  table_model.py  the table model (``Table``, ``Column``, ``Row``, ``Cell``) every format renders
  row_keys.py     which row of a table a results file fills, the rows' labels and order
  stamps.py       the lines under a table: protocol, split, unverified rows, failures, clip counts
  clip_sets.py    which clips each results file was scored on, and which rows are ranked together
  tables.py       builds the tables (per spec, + one per extra dataset, + "other metrics" of a
                  paper dataset) from the results files and the paper's reported numbers
  formats.py      captions and the Markdown, LaTeX (booktabs) and HTML renderings of a table
  plots.py        matplotlib (Agg) figures: bank size curves, ablations, per-clip distributions,
                  training efficiency
  html.py         report/index.html: tables, plots and a grid of side-by-side videos
  proof.py        the disentanglement proof's table (from eval.proof's proof.json), when there is one
  build.py        writes the whole report folder, every page rendered before the first file is written
  __main__.py     the command line

To add a paper table: add a ``TableSpec`` to ``TABLES`` in table_specs.py (and its reported CSV to
``baselines.reported`` if the paper prints numbers for it).
"""
