"""kapta-vendus: POS and operational events in, correct Portuguese fiscal documents in Vendus out."""

__version__ = "0.1.0"
