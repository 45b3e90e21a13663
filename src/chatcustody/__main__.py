"""Allow ``python -m chatcustody``."""

from chatcustody.cli import main

main()
