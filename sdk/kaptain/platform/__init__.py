"""Platform plumbing of the SDK: configuration providers, constants, names, quantities and images."""
