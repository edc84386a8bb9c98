"""``python -m kapta_vendus`` = ``kapta-vendus``."""

from kapta_vendus.cli import main

main()
