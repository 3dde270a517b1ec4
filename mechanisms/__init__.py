"""The papers' equations: pure functions and frozen parameter dataclasses, batched over arrays."""

from seqrl._guard import require_namespace

require_namespace(__name__, "seqrl.mechanisms")
