"""Talking to AWS with boto3: discover a cluster's resources, check them before the first reconcile
(preflight), create the Secrets Manager entries the stack reads (secrets bootstrap).

boto3's standard configuration only: profiles (AWS_PROFILE), AWS_REGION, AWS_ENDPOINT_URL (how the
tests reach moto_server on 127.0.0.1) and the default credential chain. Nothing here runs on synth:
the overlays render without any AWS access.
"""
