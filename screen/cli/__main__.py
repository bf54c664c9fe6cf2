"""`python -m screen.cli`: the batscreen command."""

from screen.cli.main import main

main()
