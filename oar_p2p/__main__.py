"""`python -m oar_p2p` runs the command-line interface."""

from oar_p2p.cli import main

main()
