"""The red team: an adaptive, model-free attack on our own eval (`cai redteam`).

Seeds are (request, draft, flagged span, principle) whose draft is bad by construction (seeds.py). Operators rewrite
a revision while keeping the flagged span verbatim (operators.py), so any revision the eval calls `genuine` is a
proven false positive. A beam search spends a query budget per seed against the eval itself (search.py), and the
report says how many seeds it broke (report.py); service.py runs it all and writes the files."""
