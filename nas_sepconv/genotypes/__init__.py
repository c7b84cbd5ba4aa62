"""Architectures as frozen values: cell genotypes (JSON and DARTS text), ResNet genotypes, shipped
named genotypes, sampling, and one dispatch (``architecture``) that builds and counts any kind."""
