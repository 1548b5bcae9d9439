"""tokenmock: the command line (`tokenmock`) and the pytest plugin that tie contracts, mock and client together."""

__version__ = "0.1.0"
