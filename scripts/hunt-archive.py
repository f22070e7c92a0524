#!/usr/bin/env python3
"""Writes a synthetic CloudTrail archive laid out as an organisation trail delivers it, for
`make bench-hunt`:

    OUT/AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz   ({"Records":[...]})

Reproducible for a seed (Python's random.Random, nothing else). The record mix is what an
organisation trail carries: STS, S3 data events, EC2/IAM/KMS/CloudWatch reads and writes,
console logins, and about 1 % T1651 calls and their context (SSM SendCommand, StartSession,
associations, automation, documents, ECS ExecuteCommand, the recon calls), whose templates are
the CloudTrail records inside the repository's events/aws samples.

usage: hunt-archive.py OUT_DIR [--mb N] [--seed S] [--t1651 FRACTION]
Writes OUT_DIR/manifest.json (files, records, T1651 records, bytes) and prints it.
"""
import copy
import datetime
import glob
import gzip
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "..", "events", "aws")

T1651_NAMES = {"SendCommand", "StartSession", "ResumeSession", "CreateAssociation", "UpdateAssociation",
               "StartAutomationExecution", "CreateDocument", "UpdateDocument", "UpdateDocumentDefaultVersion",
               "ModifyDocumentPermission", "ExecuteCommand"}

AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "console.amazonaws.com",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.51.6 (go1.22.1; linux; amd64)",
]


def identity(rnd, acct):
    kind = rnd.random()
    if kind < 0.55:
        role = rnd.choice(["AWSServiceRoleForConfig", "ci-deploy", "OrganizationAccountAccessRole", "lambda-etl-exec",
                           "eks-node-group", "AWSReservedSSO_ReadOnly_5f3a9c", "backup-operator"])
        sess = rnd.choice(["i-0%015x" % rnd.getrandbits(60), "botocore-session-%d" % rnd.randrange(10**9, 10**10),
                           "terraform", "j.doe@example.com", "ConfigSession"])
        return {"type": "AssumedRole", "principalId": "AROA%s:%s" % (("%016X" % rnd.getrandbits(64))[:16], sess),
                "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, sess), "accountId": acct,
                "accessKeyId": "ASIA%016X" % rnd.getrandbits(64),
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA%016X" % rnd.getrandbits(64),
                                                     "arn": "arn:aws:iam::%s:role/%s" % (acct, role), "accountId": acct,
                                                     "userName": role},
                                   "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"}}}
    if kind < 0.75:
        svc = rnd.choice(["config.amazonaws.com", "cloudformation.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                          "autoscaling.amazonaws.com", "lambda.amazonaws.com"])
        return {"type": "AWSService", "invokedBy": svc}
    user = rnd.choice(["deploy-bot", "a.nguyen", "m.schmidt", "svc-backup", "etl-runner"])
    return {"type": "IAMUser", "principalId": "AIDA%016X" % rnd.getrandbits(64), "arn": "arn:aws:iam::%s:user/%s" % (acct, user),
            "accountId": acct, "accessKeyId": "AKIA%016X" % rnd.getrandbits(64), "userName": user}


def noise(rnd, acct, region):
    """One ordinary management or data event."""
    n = rnd.random()
    bucket = "org-%s-%s" % (acct[-4:], rnd.choice(["logs", "artifacts", "data-lake", "backups"]))
    if n < 0.22:
        src, name = "s3.amazonaws.com", rnd.choice(["GetObject", "PutObject", "HeadObject", "ListObjects"])
        req = {"bucketName": bucket, "Host": "%s.s3.%s.amazonaws.com" % (bucket, region),
               "key": "year=2026/month=10/part-%05d.snappy.parquet" % rnd.randrange(99999)}
        resp = None
        extra = {"resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, req["key"])},
                               {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}],
                 "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                         "bytesTransferredIn": 0, "bytesTransferredOut": rnd.randrange(10**7),
                                         "AuthenticationMethod": "AuthHeader", "x-amz-id-2": "%032x" % rnd.getrandbits(128)},
                 "eventCategory": "Data", "readOnly": name != "PutObject"}
    elif n < 0.40:
        src, name = "sts.amazonaws.com", rnd.choice(["AssumeRole", "GetCallerIdentity", "AssumeRoleWithWebIdentity"])
        req = {"roleArn": "arn:aws:iam::%s:role/ci-deploy" % acct, "roleSessionName": "session-%d" % rnd.randrange(10**6),
               "durationSeconds": 3600}
        resp = {"credentials": {"accessKeyId": "ASIA%016X" % rnd.getrandbits(64), "sessionToken": "IQoJb3JpZ2luX2VjE" + "%064x" % rnd.getrandbits(256),
                                "expiration": "Oct 1, 2026, 1:00:00 AM"},
                "assumedRoleUser": {"assumedRoleId": "AROA%016X:session" % rnd.getrandbits(64),
                                    "arn": "arn:aws:sts::%s:assumed-role/ci-deploy/session" % acct}}
        extra = {"resources": [{"accountId": acct, "type": "AWS::IAM::Role", "ARN": req["roleArn"]}], "readOnly": True}
    elif n < 0.58:
        src, name = "ec2.amazonaws.com", rnd.choice(["DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes",
                                                      "RunInstances", "CreateTags", "DescribeSubnets"])
        req = {"instancesSet": {"items": [{"instanceId": "i-0%016x" % rnd.getrandbits(64)}]},
               "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}}]}}
        resp = None
        extra = {"readOnly": name.startswith("Describe")}
    elif n < 0.70:
        src, name = "kms.amazonaws.com", rnd.choice(["Decrypt", "GenerateDataKey", "Encrypt"])
        req = {"keyId": "arn:aws:kms:%s:%s:key/%s" % (region, acct, uuid.UUID(int=rnd.getrandbits(128))),
               "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
               "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::%s" % bucket}}
        resp = None
        extra = {"resources": [{"accountId": acct, "type": "AWS::KMS::Key", "ARN": req["keyId"]}], "readOnly": True}
    elif n < 0.80:
        src, name = "logs.amazonaws.com", rnd.choice(["CreateLogStream", "PutRetentionPolicy", "DescribeLogGroups"])
        req = {"logGroupName": "/aws/lambda/etl-%d" % rnd.randrange(50), "logStreamName": "2026/10/01/[$LATEST]%032x" % rnd.getrandbits(128)}
        resp = None
        extra = {"readOnly": name.startswith("Describe")}
    elif n < 0.90:
        src, name = "iam.amazonaws.com", rnd.choice(["GetRole", "ListAttachedRolePolicies", "GetPolicyVersion", "ListRoles"])
        req = {"roleName": rnd.choice(["ci-deploy", "eks-node-group", "lambda-etl-exec"])}
        resp = None
        extra = {"readOnly": True}
    elif n < 0.95:
        src, name = "signin.amazonaws.com", "ConsoleLogin"
        req = None
        resp = {"ConsoleLogin": "Success"}
        extra = {"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"}}
    else:
        src, name = "monitoring.amazonaws.com", rnd.choice(["PutMetricData", "GetMetricData", "DescribeAlarms"])
        req = {"namespace": "Custom/ETL", "metricData": [{"metricName": "RowsProcessed", "value": rnd.randrange(10**6)}]}
        resp = None
        extra = {"readOnly": name != "PutMetricData"}
    rec = {"eventVersion": "1.09", "userIdentity": identity(rnd, acct), "eventTime": None, "eventSource": src,
           "eventName": name, "awsRegion": region, "sourceIPAddress": "%d.%d.%d.%d" % (rnd.choice([3, 18, 34, 52, 198]), rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255)),
           "userAgent": rnd.choice(AGENTS), "requestParameters": req, "responseElements": resp,
           "requestID": str(uuid.UUID(int=rnd.getrandbits(128))), "eventID": None, "eventType": "AwsApiCall",
           "managementEvent": src != "s3.amazonaws.com", "recipientAccountId": acct, "eventCategory": "Management",
           "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                          "clientProvidedHostHeader": "%s.%s.amazonaws.com" % (src.split(".")[0], region)}}
    rec.update(extra)
    return rec


def main():
    out = sys.argv[1]
    arg = lambda name, default: type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default
    mb, seed, frac = arg("--mb", 320), arg("--seed", 1651), arg("--t1651", 0.01)
    rnd = random.Random(seed)
    templates = []
    for p in sorted(glob.glob(os.path.join(EVENTS, "*.json"))):
        doc = json.load(open(p))
        rec = doc.get("detail", doc)
        if isinstance(rec, dict) and rec.get("eventName"):
            templates.append(rec)
    if not templates:
        sys.exit("no CloudTrail samples found in events/aws")
    org = "o-%010x" % rnd.getrandbits(40)
    accounts = ["%012d" % rnd.randrange(10**11, 10**12) for _ in range(24)]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
    t0 = datetime.datetime(2026, 9, 1, tzinfo=datetime.timezone.utc)
    files = records = t1651 = raw = gz = 0
    target = mb * 1000 * 1000
    while raw < target:
        acct, region = rnd.choice(accounts), rnd.choice(regions)
        delivered = t0 + datetime.timedelta(seconds=7603 * files)
        recs = []
        for _ in range(rnd.randrange(40, 420)):
            if rnd.random() < frac:
                r = copy.deepcopy(rnd.choice(templates))
                ui = r.get("userIdentity")
                if isinstance(ui, dict) and "accountId" in ui:
                    ui["accountId"] = acct
                t1651 += r.get("eventName") in T1651_NAMES
            else:
                r = noise(rnd, acct, region)
            r["eventID"] = str(uuid.UUID(int=rnd.getrandbits(128)))
            # Events happen up to 15 minutes before the file is delivered.
            r["eventTime"] = (delivered - datetime.timedelta(seconds=rnd.randrange(900))).strftime("%Y-%m-%dT%H:%M:%SZ")
            r["recipientAccountId"] = acct
            r["awsRegion"] = region
            recs.append(r)
        records += len(recs)
        doc = json.dumps({"Records": recs}, separators=(",", ":")).encode()
        d = os.path.join(out, "AWSLogs", org, acct, "CloudTrail", region, delivered.strftime("%Y/%m/%d"))
        os.makedirs(d, exist_ok=True)
        name = "%s_CloudTrail_%s_%s_%016x.json.gz" % (acct, region, delivered.strftime("%Y%m%dT%H%MZ"), rnd.getrandbits(64))
        data = gzip.compress(doc, 6, mtime=0)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        raw += len(doc)
        gz += len(data)
        files += 1
    manifest = {"seed": seed, "files": files, "records": records, "t1651_records": t1651,
                "raw_bytes": raw, "gzip_bytes": gz, "org_id": org, "first_delivery": t0.isoformat(),
                "last_delivery": (t0 + datetime.timedelta(seconds=7603 * (files - 1))).isoformat()}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
