"""`python -m pipeline` runs the newsalign command."""

from pipeline.cli import main

main()
