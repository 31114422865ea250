# Thin verbs over package scripts. Node 24 and the pinned pnpm come from
# scripts/ensure-node.sh (from the npm registry) when the machine's are older.
SHELL := /bin/bash
TOOL_PATH := $(shell scripts/ensure-node.sh)
export PATH := $(if $(TOOL_PATH),$(TOOL_PATH):)$(PATH)

DEVICES ?= 100
## make demo SCENARIO=rollout: the rollout demo, unattended (its fleet is smaller: it finishes in well under 2 minutes).
SCENARIO ?=
ROLLOUT_DEVICES ?= 20
DURATION ?= 30s
RATE ?= 1
export DEVICES DURATION RATE ONCE

.PHONY: all install build demo up test test-containers test-unit test-integration test-e2e check lint format bench services clean images helm-tools helm-lint kind-up helm-install fleet-scale

all: build

node_modules/.modules.yaml: pnpm-lock.yaml package.json
	pnpm install --frozen-lockfile
	@touch $@

install: node_modules/.modules.yaml

build: install
	pnpm build

## The main job: every service in one process with an emulated fleet (no servers needed).
demo: build
	node apps/cli/dist/main.js up $(if $(filter rollout,$(SCENARIO)),--scenario rollout --once --devices $(ROLLOUT_DEVICES),--fleet)

## Distributed mode on one machine: each service its own process, on the machine's NATS and PostgreSQL.
up: build services
	scripts/up-distributed.sh

services:
	scripts/ensure-services.sh

## Every test, the container tier included (it needs the image: make images, cached after the first build).
test: services build images
	pnpm test

## The container tier alone: the image's containers from the chart's rendered spec and docker/compose.yaml.
test-containers: build services images
	pnpm test:containers

test-unit: install
	pnpm test:unit

test-integration: install services
	pnpm test:integration

test-e2e: build services
	pnpm test:e2e

check: build
	pnpm check

format: install
	pnpm format

## make bench runs every benchmark; make bench NAME=gateway-throughput runs one.
bench: build services
	node bench/run.js $(NAME)

clean:
	rm -rf packages/*/dist services/*/dist devices/*/dist reports

## Kubernetes (see README, "Kubernetes"). Images need a Docker engine; helm and kubectl come from npm.
IMAGE ?= rampart:dev
KIND_CLUSTER ?= rampart
RELEASE ?= rampart
NAMESPACE ?= rampart
HELM_ARGS ?=
HELM_BIN = $(shell scripts/ensure-helm.sh)

## The image, with BuildKit; its base is built here from Debian and npm when no registry serves node:24 (see README).
images:
	IMAGE=$(IMAGE) scripts/build-images.sh

helm-tools:
	@scripts/ensure-helm.sh

helm-lint:
	$(HELM_BIN)/helm lint charts/rampart
	for f in charts/rampart/ci/*.yaml; do $(HELM_BIN)/helm lint charts/rampart -f $$f || exit 1; done

kind-up: images
	kind create cluster --name $(KIND_CLUSTER) --config k8s/kind-cluster.yaml
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

helm-install:
	$(HELM_BIN)/helm upgrade --install $(RELEASE) charts/rampart --namespace $(NAMESPACE) --create-namespace \
	  --set image.repository=$(firstword $(subst :, ,$(IMAGE))) --set image.tag=$(lastword $(subst :, ,$(IMAGE))) --wait --timeout 10m $(HELM_ARGS)

## make fleet-scale N=4: emulator pods (each DEVICES_PER_POD devices, from the chart's fleet.devicesPerPod).
fleet-scale:
	@test -n "$(N)" || { echo "usage: make fleet-scale N=<pods>"; exit 2; }
	$(HELM_BIN)/kubectl --namespace $(NAMESPACE) scale statefulset/$(RELEASE)-fleet --replicas=$(N)
