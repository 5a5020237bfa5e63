"""Shared test helpers: fakes, local-service helpers, image builders, cassette and notebook support."""
