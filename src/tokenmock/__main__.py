"""`python -m tokenmock` runs the command line."""

from tokenmock.cli import main

main()
