"""The review web app: read the stored articles and review their paragraph alignments."""
