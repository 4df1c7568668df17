"""Format backends, one module each, registered under the ``ziggurat.sources`` entry points."""
