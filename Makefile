# ntpbox — see README.md. Every target works on a fresh Debian 12 machine as
# root; `make test` and `make bench` install the Debian packages they need.

GO      ?= go
BIN     := out/ntpbox
NTPLOAD ?= ../shared/tools/ntpload
export CGO_ENABLED := 0

.PHONY: all build run test unit integration fuzz bench deps clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ntpbox

# The main job (until the appliance exists): serve the local clock on a
# loopback port and show a query answered, then keep serving until Ctrl-C.
run: build
	build/run.sh $(BIN) ntpbox.example.conf

# Everything: vet, unit tests, fuzz seeds, integration tests with real
# clients (chronyd, ntpdate, ntpdig). Installs what it needs first.
test: deps build
	$(GO) vet ./...
	NTPBOX_REQUIRE_TOOLS=1 NTPBOX_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./...

# Short coverage-guided fuzzing of every decoder (not part of `make test`,
# which runs the committed seeds).
fuzz:
	$(GO) test -run XXX -fuzz FuzzPacket -fuzztime 60s ./ntpserver
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 60s ./ntpserver/config

# ntpbox beside chronyd under ntpload; prints the figures and ratios.
bench: deps build
	$(GO) test -run XXX -bench . -benchmem ./ntpserver
	build/bench.sh $(BIN) $(NTPLOAD)

deps:
	build/deps.sh

clean:
	rm -rf out
