"""The version of socialcreditsim, in one place below every file that records it (manifests,
checkpoints, reports); read as ``version.__version__`` when it is recorded."""

__version__ = "0.1.0"
