"""`python main.py doctor`: check a cluster before Flux applies anything from dist/.

What to check is read from the rendered tree (dist/flux/<overlay>.yaml and the kustomizations its stages
point at); the cluster is read through the Kubernetes Python client with the standard kubeconfig loading.
Nothing is written to the cluster.
"""
