# cdfss: the two commands a newcomer needs.
#   make demo   builds the command line in release and runs the built-in demo
#   make test   builds and runs the whole test suite (release: the kernels are heavy)
# Both install the Debian packages they need first.

SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: all system-packages build test demo demo-model-check bench kill-resume-check fuzz clean

all: build

system-packages:
	@./scripts/install-system-packages.sh

build: system-packages
	$(SWIFT) build -c release --product cdfss

# Release build (the numerics are heavy), with testing enabled so that kernel tests can reach
# internal types; kept in its own build folder so it does not rebuild the demo's binary.
TEST_FLAGS = -c release -Xswiftc -enable-testing --scratch-path .build-tests

# The parity and gradient tests, run again under the settings other machines have: one
# thread (another split of every sum), and OpenBLAS's other kernel family (its own choice for
# this CPU when the environment pins one through OPENBLAS_CORETYPE, the pinned Haswell
# kernels otherwise). Their bounds follow from the numerics, so they must pass everywhere.
PARITY_TESTS = AmplitudePhaseMaskerTests|MatrixProductTests|ResNet101Tests|AmplitudePhaseMaskerSparsePlaneTests|SlotGradientTests|ChannelPhaseAttentionTests|CenterPivotConv4dTests|Layer[A-Za-z0-9]*Tests|HypercorrelationTests|HypercorrelationBackwardTests|HPNLearnerBackwardTests|LearnerTrainingStepTests|HSNetEpisodeTests|MaskerGradientTests|AdamTrajectoryTests|SmallPlaneDFTTests|AmplitudePhaseMaskerGradientTests|ChannelPhaseAttentionGradientTests|PATNetTests|PATNetTrainingTests|PATNetMaskerGradientTests|VGG16Tests
PARITY = $(SWIFT) test $(TEST_FLAGS) --skip-build --disable-swift-testing --filter '$(PARITY_TESTS)'

test: system-packages
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build --disable-swift-testing
	@echo "parity tests, one thread:"
	CDFSS_THREADS=1 $(PARITY)
	@if [ -n "$$OPENBLAS_CORETYPE" ]; then \
		echo "parity tests, OpenBLAS's own kernel choice (OPENBLAS_CORETYPE unset):"; \
		env -u OPENBLAS_CORETYPE $(PARITY); \
	else \
		echo "parity tests, OpenBLAS's Haswell kernels (OPENBLAS_CORETYPE=Haswell):"; \
		OPENBLAS_CORETYPE=Haswell $(PARITY); \
	fi

demo: build
	"$$($(SWIFT) build -c release --show-bin-path)/cdfss" demo --out "$(DEMO_DIR)"

# Trains the demo model again (scripts/demo-model.sh, about 6 minutes) and checks that the
# shipped one (builtin:demo) is what it produces; needs the test build of `make test`.
demo-model-check: build
	CDFSS="$$($(SWIFT) build -c release --show-bin-path)/cdfss" SWIFT=$(SWIFT) ./scripts/demo-model.sh --check .demo-model

bench: build
	"$$($(SWIFT) build -c release --show-bin-path)/cdfss" bench

# SIGKILL at random moments of finetune --save-every 1, resumed each time: the result must equal
# the uninterrupted run's byte for byte, with no stray files (KILLS=40 by default).
KILLS ?= 40
kill-resume-check: build
	@./scripts/kill-resume-check.sh "$$($(SWIFT) build -c release --show-bin-path)/cdfss" .kill-resume $(KILLS)

# libFuzzer on every file parser (checkpoint, safetensors, numpy, png, jpeg, tiff, report),
# FUZZ_SECONDS each; built in .build-fuzz so that test and demo builds never change.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

fuzz: system-packages
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) ./scripts/fuzz.sh $(FUZZ_TARGETS)

clean:
	rm -rf .build .build-tests .build-fuzz $(DEMO_DIR) .kill-resume .demo-model
