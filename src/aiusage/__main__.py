"""``python -m aiusage``."""

from aiusage.cli import main

main()
