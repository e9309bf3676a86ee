"""Generator of the example workflows in ../../workflows: see build.py and the README's developer corner."""
