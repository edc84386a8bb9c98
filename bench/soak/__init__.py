"""The one-hour soak (see ``__main__``)."""
