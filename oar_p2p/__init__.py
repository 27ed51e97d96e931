"""oar-p2p: emulated peer-to-peer networks and containerized experiments on OAR jobs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oar-p2p")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
