# The release build replaces this line with the version it publishes.
__version__ = "0.0.0.dev0"
