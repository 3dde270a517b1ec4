"""The papers' equations: pure functions and frozen parameter dataclasses, batched over arrays."""
