"""boto3 clients with boto3's own configuration, and AWS errors turned into one clear line each."""
from __future__ import annotations

import os
import re

import boto3
import botocore.exceptions as bex
from botocore.config import Config

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
                   "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken"}
CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)


class AwsError(Exception):
    """An AWS problem the user can act on; printed as one line, no traceback."""


class AccessDenied(AwsError):
    pass


def error_code(error: Exception) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, bex.ClientError) else ""


class Aws:
    """Clients of one session; `call` translates the errors every command must explain the same way."""

    def __init__(self, region: str | None = None, profile: str | None = None):
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except bex.ProfileNotFound as error:
            raise AwsError(f"{error}; profiles are read from ~/.aws/config (AWS_PROFILE or --profile)") from None
        if not self.session.region_name:
            raise AwsError("no AWS region: pass --region, set AWS_REGION, or give the profile a region")
        self.region = self.session.region_name
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=CLIENT_CONFIG)
        return self._clients[service]

    def call(self, service: str, operation: str, **kwargs):
        """One API call. Raises AwsError for what no caller can handle, ClientError for the rest (NotFound...)."""
        try:
            return getattr(self.client(service), operation)(**kwargs)
        except (bex.NoCredentialsError, bex.PartialCredentialsError):
            raise AwsError("no AWS credentials: boto3's credential chain found none; set AWS_PROFILE (after "
                           "`aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except bex.EndpointConnectionError as error:
            where = os.environ.get("AWS_ENDPOINT_URL")
            raise AwsError(f"cannot reach {error.kwargs.get('endpoint_url', service)} (region {self.region}"
                           f"{', AWS_ENDPOINT_URL=' + where if where else ''}): check the region name and the network") from None
        except bex.ClientError as error:
            code, message = _code_and_message(error)
            action = f"{_iam_prefix(service)}:{_action_name(operation)}"
            if code in ACCESS_DENIED:
                raise AccessDenied(f"access denied: {action} ({message}); grant the caller {action}") from None
            if code in BAD_CREDENTIALS:
                raise AwsError(f"AWS rejected the credentials ({code}: {message}); check AWS_PROFILE or the "
                               "access keys, or renew the session (`aws sso login`)") from None
            raise


def _code_and_message(error: bex.ClientError) -> tuple[str, str]:
    """The error's code; a body the protocol's parser could not read (an XML error answering a JSON API,
    as moto_server sends for a denied request) leaves only the HTTP status as code: read it from the body."""
    code, message = error_code(error), error.response.get("Error", {}).get("Message", "")
    if code.isdigit():
        found = re.search(r"<Code>(\w+)</Code>", message)
        text = re.search(r"<Message>(.*?)</Message>", message, re.S)
        code = found.group(1) if found else ("AccessDenied" if code == "403" else code)
        message = text.group(1) if text else message
    return code, message


def _iam_prefix(service: str) -> str:
    return {"resourcegroupstaggingapi": "tag"}.get(service, service)


# Where IAM names the action otherwise than the operation (boto3's snake_case, capitalized).
ACTION_NAMES = {"GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
                "GetBucketEncryption": "GetEncryptionConfiguration", "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
                "GetBucketLocation": "GetBucketLocation", "ListBuckets": "ListAllMyBuckets"}


def _action_name(operation: str) -> str:
    """boto3's operation as IAM names the action (get_bucket_tagging -> GetBucketTagging)."""
    name = "".join(part.capitalize() for part in operation.split("_"))
    return ACTION_NAMES.get(name, name)
