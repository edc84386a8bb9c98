"""Operator commands, one module per capability, collected by ``kapta_vendus.cli``."""
