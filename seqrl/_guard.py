"""Refuse to import seqrl's folders under their bare names (``import agents``).

The folders agents/, envs/, mechanisms/ and scenarios/ sit at the top of the repository but install
as ``seqrl.agents`` and so on. Run from the repository root, ``import agents`` would otherwise load
the same files a second time as another module (two registries, two sets of classes).
"""


def require_namespace(module_name: str, expected: str) -> None:
    """Raise ImportError unless the package is being imported as ``expected``."""
    if module_name != expected:
        raise ImportError(
            f"this folder is the package {expected}; import {expected}, not {module_name}"
        )
