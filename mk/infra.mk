# Infrastructure: CloudFormation templates under infra/, Lambda packages under build/.
.PHONY: package infra-lint infra-deploy

LAMBDA_TEMPLATE := infra/generated/lambda.yaml
INFRA_TEMPLATES = $(wildcard infra/*.yaml) $(LAMBDA_TEMPLATE)
TEMPLATE ?= infra/estate.yaml

# One zip per function and per layer (Lambda layout) under build/, and infra/generated/lambda.yaml.
package: $(STAMP)
	$(PY) -m infra.package

# cfn-lint (no suppressions) and our own rules on every template, the Lambda one generated afresh from function.json.
infra-lint: $(STAMP)
	$(PY) -m infra.package --template-only
	$(VENV)/bin/cfn-lint $(INFRA_TEMPLATES)
	$(PY) -m infra.checks $(INFRA_TEMPLATES)

# make infra-deploy STACK=name [TEMPLATE=infra/estate.yaml] [PARAMS="Key=Value ..."]
# Against AWS with your usual credentials, or against moto with AWS_ENDPOINT_URL=http://127.0.0.1:5000.
infra-deploy: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make infra-deploy STACK=name [TEMPLATE=$(TEMPLATE)] [PARAMS='Key=Value ...']" >&2; exit 2; }
	$(PY) -m infra.deploy --stack "$(STACK)" --template "$(TEMPLATE)" $(PARAMS)

TEST_CHECKS += infra-lint

# A local AWS (moto on 127.0.0.1) to try infra-deploy without an account; see infra/local_aws.py.
.PHONY: local-aws
LOCAL_AWS_PORT ?= 5000
local-aws: $(STAMP)
	$(PY) -m infra.local_aws --port $(LOCAL_AWS_PORT)
