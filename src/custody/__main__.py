"""`python -m custody` is the `custody` command."""

from custody.cli import main

main()
