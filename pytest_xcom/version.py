"""The package version, in its own module so the record can stamp manifests without importing the package."""

__version__ = "0.1.0"
