"""The panel's pages, one module each; every module exposes ``routes``."""
