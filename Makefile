# cdfss: the two commands a newcomer needs.
#   make demo   builds the command line in release and runs the built-in demo
#   make test   builds and runs the whole test suite (release: the kernels are heavy)
# Both install the Debian packages they need first.

SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: all system-packages build test demo bench clean

all: build

system-packages:
	@./scripts/install-system-packages.sh

build: system-packages
	$(SWIFT) build -c release --product cdfss

# Release build (the numerics are heavy), with testing enabled so that kernel tests can reach
# internal types; kept in its own build folder so it does not rebuild the demo's binary.
TEST_FLAGS = -c release -Xswiftc -enable-testing --scratch-path .build-tests

test: system-packages
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build --disable-swift-testing

demo: build
	@./scripts/demo.sh "$$($(SWIFT) build -c release --show-bin-path)/cdfss" "$(DEMO_DIR)"

bench: build
	"$$($(SWIFT) build -c release --show-bin-path)/cdfss" bench

clean:
	rm -rf .build .build-tests $(DEMO_DIR)
