"""Presenting an eval: the terminal and Markdown summaries, report.html, run diffs and the `cai review` app.

Reports read what the eval wrote (eval.jsonl, report.json, labels.jsonl); they import `evals`, never the reverse.
"""
