"""Each backend's conformance tests: subclasses of ziggurat.testing.SourceTests."""
