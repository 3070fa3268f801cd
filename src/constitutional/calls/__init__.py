"""Every model call: how it is made (one CallSettings, one factory), retried, paced, cached, priced and batched.

The run's model, the judge, the debaters and the scorer's backend all get their model here; `pipeline` and `evals`
import this package, and it imports only `models` and the leaf modules.
"""
