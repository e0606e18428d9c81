"""Blue/green deploys of the VM estate: `make deploy-vm`, `make rollback-vm`, `make deploy-status`.

The steps are plain functions (deploy/steps.py; the gates in deploy/gates.py, rollback and status in
deploy/rollback.py) run against an `Estate` (deploy/estate.py):
`LocalEstate` (this machine: an nginx load balancer and two local VMs, deploy/local.py) or
`AwsEstate` (ELBv2 listener, SSM Run Command, ECR, deploy/aws.py).
"""
