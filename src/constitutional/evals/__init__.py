"""The eval: does each revision actually follow the principles, or only sound compliant?"""

from constitutional.evals.items import EvalInput, EvalItem, read_input
from constitutional.evals.stage import EvalResult, run_eval

__all__ = ["EvalInput", "EvalItem", "EvalResult", "read_input", "run_eval"]
