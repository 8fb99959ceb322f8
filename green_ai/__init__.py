"""green_ai: what deep learning costs in joules, next to what it buys in accuracy and latency."""

__version__ = "0.1.0"
