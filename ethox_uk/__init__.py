# ethox-uk. This file is also frozen into images and imported by MicroPython:
# keep it free of imports.
__version__ = "0.1.0"
