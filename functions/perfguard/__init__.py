"""perfguard: performance monitoring for an ICP + Flutter marketplace.

Layers: `domain` is pure (no I/O, no clock, no environment); `warehouse`, `bus` and `local` are adapters;
`api` turns HTTP requests into calls on the domain and the ports; `functions/main.py` only adapts triggers.
"""

__version__ = "0.1.0"
