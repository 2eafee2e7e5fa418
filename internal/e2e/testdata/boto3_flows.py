"""boto3 flows against a Signet server, for TestBoto3KMSSSM.

The endpoint is SIGNET_URL; credentials come from the environment.
Each step prints "ok NAME" or "FAIL NAME: why"; the exit status is 1
when a step failed. The Go test checks that every step it expects
printed "ok".
"""
import base64
import os
import sys
import traceback

import boto3
from botocore.exceptions import ClientError

URL = os.environ["SIGNET_URL"]
session = boto3.session.Session(region_name="us-east-1")
failed = False


def client(service):
    return session.client(service, endpoint_url=URL)


def step(name):
    """Runs the decorated function as one step, now."""
    def run(fn):
        global failed
        try:
            fn()
            print("ok " + name, flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed = True
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print("FAIL %s: %s" % (name, detail), flush=True)
        return fn
    return run


def error_code(fn):
    """Calls fn and returns the code of the ClientError it raises."""
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no ClientError was raised")


# KMS.
kms = client("kms")
state = {}


@step("kms create_key")
def _():
    md = kms.create_key(Description="boto3 key")["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["KeySpec"] == "SYMMETRIC_DEFAULT", md
    state["key"] = md["Arn"]


@step("kms create_alias")
def _():
    kms.create_alias(AliasName="alias/boto3", TargetKeyId=state["key"])
    assert kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]["Arn"] == state["key"]


@step("kms encrypt decrypt with encryption context")
def _():
    ctx = {"app": "boto3", "env": "test"}
    out = kms.encrypt(KeyId="alias/boto3", Plaintext=b"s3cr3t-boto3", EncryptionContext=ctx)
    assert out["KeyId"] == state["key"], out["KeyId"]
    assert b"s3cr3t-boto3" not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ctx)
    assert back["Plaintext"] == b"s3cr3t-boto3" and back["KeyId"] == state["key"], back
    state["blob"] = out["CiphertextBlob"]


@step("kms decrypt with a wrong context raises InvalidCiphertextException")
def _():
    code = error_code(lambda: kms.decrypt(CiphertextBlob=state["blob"], EncryptionContext={"app": "other"}))
    assert code == "InvalidCiphertextException", code
    # The modeled exception class is raised too.
    try:
        kms.decrypt(CiphertextBlob=state["blob"])
    except kms.exceptions.InvalidCiphertextException:
        pass
    else:
        raise AssertionError("decrypt without the context succeeded")


@step("kms generate_data_key")
def _():
    dk = kms.generate_data_key(KeyId=state["key"], KeySpec="AES_256", EncryptionContext={"purpose": "dk"})
    assert len(dk["Plaintext"]) == 32, len(dk["Plaintext"])
    back = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"purpose": "dk"})
    assert back["Plaintext"] == dk["Plaintext"]


# SSM Parameter Store.
ssm = client("ssm")


@step("ssm put_parameter SecureString with an alias key")
def _():
    out = ssm.put_parameter(Name="/boto3/db/password", Value="pw-boto3-1", Type="SecureString", KeyId="alias/boto3")
    assert out["Version"] == 1, out
    ssm.put_parameter(Name="/boto3/db/password", Value="pw-boto3-2", Type="SecureString", KeyId="alias/boto3", Overwrite=True)
    ssm.put_parameter(Name="/boto3/db/host", Value="db.internal", Type="String")
    ssm.put_parameter(Name="/boto3/app/name", Value="signet", Type="String")


@step("ssm get_parameter WithDecryption")
def _():
    p = ssm.get_parameter(Name="/boto3/db/password", WithDecryption=True)["Parameter"]
    assert p["Value"] == "pw-boto3-2" and p["Type"] == "SecureString" and p["Version"] == 2, p
    enc = ssm.get_parameter(Name="/boto3/db/password")["Parameter"]["Value"]
    assert "pw-boto3" not in enc and base64.b64decode(enc), enc


@step("ssm get_parameters_by_path")
def _():
    flat = ssm.get_parameters_by_path(Path="/boto3/db", WithDecryption=True)["Parameters"]
    assert sorted(p["Name"] for p in flat) == ["/boto3/db/host", "/boto3/db/password"], flat
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/boto3", Recursive=True, PaginationConfig={"PageSize": 1})
    names = sorted(p["Name"] for page in pages for p in page["Parameters"])
    assert names == ["/boto3/app/name", "/boto3/db/host", "/boto3/db/password"], names


@step("ssm label_parameter_version")
def _():
    out = ssm.label_parameter_version(Name="/boto3/db/password", ParameterVersion=1, Labels=["previous"])
    assert out["InvalidLabels"] == [], out
    p = ssm.get_parameter(Name="/boto3/db/password:previous", WithDecryption=True)["Parameter"]
    assert p["Value"] == "pw-boto3-1" and p["Version"] == 1, p


# Secrets Manager.
sm = client("secretsmanager")


@step("secretsmanager create_secret with a customer key")
def _():
    out = sm.create_secret(Name="boto3/db", KmsKeyId="alias/boto3", SecretString='{"password":"sm-boto3-1"}')
    assert ":secret:boto3/db-" in out["ARN"] and out["VersionId"], out
    state["secret"] = out["ARN"]
    state["v1"] = out["VersionId"]


@step("secretsmanager get_secret_value")
def _():
    out = sm.get_secret_value(SecretId="boto3/db")
    assert out["SecretString"] == '{"password":"sm-boto3-1"}' and out["VersionStages"] == ["AWSCURRENT"], out


@step("secretsmanager put_secret_value and AWSPREVIOUS")
def _():
    out = sm.put_secret_value(SecretId=state["secret"], SecretString='{"password":"sm-boto3-2"}')
    assert out["VersionStages"] == ["AWSCURRENT"], out
    prev = sm.get_secret_value(SecretId="boto3/db", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == state["v1"] and prev["SecretString"] == '{"password":"sm-boto3-1"}', prev


@step("secretsmanager describe_secret")
def _():
    d = sm.describe_secret(SecretId="boto3/db")
    assert d["KmsKeyId"] == state["key"] and len(d["VersionIdsToStages"]) == 2 and not d["RotationEnabled"], d


@step("secretsmanager rotate_secret without a function raises InvalidRequestException")
def _():
    assert error_code(lambda: sm.rotate_secret(SecretId="boto3/db")) == "InvalidRequestException"


@step("secretsmanager get_secret_value of an unknown secret raises ResourceNotFoundException")
def _():
    try:
        sm.get_secret_value(SecretId="boto3/none")
    except sm.exceptions.ResourceNotFoundException:
        return
    raise AssertionError("no ResourceNotFoundException")


@step("secretsmanager delete_secret and restore_secret")
def _():
    out = sm.delete_secret(SecretId="boto3/db", RecoveryWindowInDays=7)
    assert out["DeletionDate"], out
    assert error_code(lambda: sm.get_secret_value(SecretId="boto3/db")) == "InvalidRequestException"
    sm.restore_secret(SecretId="boto3/db")
    assert sm.get_secret_value(SecretId="boto3/db")["SecretString"] == '{"password":"sm-boto3-2"}'


sys.exit(1 if failed else 0)
