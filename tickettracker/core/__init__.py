"""The shared kernel every layer may import: typed settings from the environment and the vocabulary (sources,
item kinds, sync types, run statuses). It imports nothing else of the package.
"""
