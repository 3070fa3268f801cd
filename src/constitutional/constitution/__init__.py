from constitutional.constitution.diff import diff_constitutions
from constitutional.constitution.loading import LoadedConstitution, builtin_names, load_constitution
from constitutional.constitution.model import Constitution, Defaults, Example, Principle, Rule

__all__ = [
    "Constitution",
    "Defaults",
    "Example",
    "LoadedConstitution",
    "Principle",
    "Rule",
    "builtin_names",
    "diff_constitutions",
    "load_constitution",
]
