"""Observability stack generator: typed config in, Kubernetes manifests out."""
