# ClaudeFS: one Makefile builds everything into build/.
#   make            build every program into build/bin
#   make test       install missing packages, build, run unit and integration tests
#   make unit       unit tests only (Check)
#   make asan       unit tests under AddressSanitizer + UBSan (build-asan/)
#   make valgrind   unit tests under valgrind: no leaks, no invalid accesses
#   make fuzz       every libFuzzer target for FUZZ_S seconds (60) each
#   make soak       the long runs (about an hour each): the data exerciser
#                   over many seeds in every configuration, on 3 nodes
#                   (replicated) and on 6 (ec:4+2); every EC crash case;
#                   20 MDS leader failovers under writers; 2 and 4
#                   metadata shards with long model runs
#   make demo       a 3-node cluster under /tmp/claudefs-demo, mounted
#   make demo-down  stop it
#   make deps       install missing Debian packages (apt-get)

BUILD   ?= build
CC      ?= gcc
PKGS    := fuse3 liburing libisal libsodium jansson libprotobuf-c lmdb raft libuv libcurl
OPT     ?= -O2
CFLAGS  := -std=gnu11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE \
           -D_FILE_OFFSET_BITS=64 -pthread $(EXTRA_CFLAGS)
LDFLAGS += -pthread $(EXTRA_LDFLAGS)
GEN     := $(BUILD)/gen
OBJ     := $(BUILD)/obj
BIN     := $(BUILD)/bin

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnng -lm
CPPFLAGS   = -Icommon/include -Iclients/lib -I$(GEN) $(PKG_CFLAGS)

PROTOS     := $(wildcard proto/*.proto)
PROTO_SRC  := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_HDR  := $(PROTO_SRC:.c=.h)
PROTO_OBJ  := $(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(PROTO_SRC))

COMMON_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(wildcard common/*.c)) $(PROTO_OBJ)
MDS_OBJ    := $(patsubst %.c,$(OBJ)/%.o,$(filter-out mds/main.c,$(wildcard mds/*.c)))
# the metadata store alone, for tools that read it (cfs fsck)
STORE_OBJ  := $(OBJ)/mds/namespace.o $(OBJ)/mds/redo.o $(OBJ)/mds/acl.o \
              $(OBJ)/mds/fsck.o $(OBJ)/mds/tierstore.o
OSD_OBJ    := $(patsubst %.c,$(OBJ)/%.o,$(filter-out osd/main.c,$(wildcard osd/*.c)))
LIBCFS_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(wildcard clients/lib/*.c))
# the parts of cfs-fuse that need no FUSE session, for the unit tests
FUSE_CORE_OBJ := $(OBJ)/clients/fuse/handouts.o $(OBJ)/clients/fuse/ringreq.o
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BIN)/%,$(FUZZ_SRC))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BIN)/%,$(UNIT_SRC))

PROGRAMS   := $(BIN)/cfs-mds $(BIN)/cfs-osd $(BIN)/cfs-fuse $(BIN)/cfs \
              $(BIN)/posix_cases $(BIN)/model $(BIN)/fsx $(BIN)/benchfiles \
              $(BIN)/rpcfloor $(BIN)/forge $(BIN)/objreq $(BIN)/cfs-tierd

.SECONDARY:
.PHONY: all test unit integration valgrind asan fuzz fuzz-bin soak demo demo-down deps clean
all: $(PROGRAMS) $(UNIT_BIN)

# Every object depends on the generated headers; -MMD tracks the rest.
# V=1 shows the full commands.
say = $(if $(V),,@echo "  $(1) $(2)";)

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	$(call say,PROTOC,$<)protoc-c --c_out=$(GEN) -Iproto $<

$(OBJ)/gen/%.o: $(GEN)/%.c $(PROTO_HDR)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-parameter -MMD -MP -c $< -o $@

$(OBJ)/%.o: %.c $(PROTO_HDR)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcfscommon.a: $(COMMON_OBJ)
	$(call say,AR,$@)ar rcs $@ $^
$(BUILD)/libcfs.a: $(LIBCFS_OBJ)
	$(call say,AR,$@)ar rcs $@ $^

$(BIN)/cfs-mds: $(OBJ)/mds/main.o $(MDS_OBJ) $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/cfs-osd: $(OBJ)/osd/main.o $(OSD_OBJ) $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/cfs-fuse: $(patsubst %.c,$(OBJ)/%.o,$(wildcard clients/fuse/*.c)) $(BUILD)/libcfs.a $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/cfs-tierd: $(patsubst %.c,$(OBJ)/%.o,$(wildcard tierd/*.c)) $(BUILD)/libcfs.a $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/cfs: $(patsubst %.c,$(OBJ)/%.o,$(wildcard clients/cli/*.c)) $(STORE_OBJ) $(BUILD)/libcfs.a $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The POSIX drivers (plain libc): run on a local directory and on a
# mount by tests/integration/test_posix_conformance.sh and test_model.sh.
$(BIN)/posix_cases $(BIN)/model $(BIN)/fsx: $(BIN)/%: $(OBJ)/tests/posix/%.o
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^
# The metadata workloads of tests/bench/run (plain libc).
$(BIN)/benchfiles: $(OBJ)/tests/bench/benchfiles.o
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^
# A client forging OSD requests (tests/integration/test_security.sh).
$(BIN)/forge: $(OBJ)/tests/tools/forge.o $(BUILD)/libcfs.a $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# One object store request (tests/integration/test_tier.sh).
$(BIN)/objreq: $(OBJ)/tests/tools/objreq.o $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# The RPC round-trip floor (raw TCP against common/rpc.c), printed by
# tests/bench/run.
$(BIN)/rpcfloor: $(OBJ)/tests/bench/rpcfloor.o $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests link the modules they test (all but the daemons' main.c).
$(BIN)/test_%: $(OBJ)/tests/unit/test_%.o $(MDS_OBJ) $(OSD_OBJ) $(FUSE_CORE_OBJ) $(BUILD)/libcfs.a $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs check)

deps:
	@tests/deps.sh

unit: all
	@tests/unit/run $(BIN)

integration: all
	@tests/integration/run $(BIN)

test: deps
	@$(MAKE) --no-print-directory all
	@tests/unit/run $(BIN)
	@tests/unit/valgrind $(BIN)
	@tests/integration/run $(BIN)

valgrind: all
	@tests/unit/valgrind $(BIN)

# SOAK_RUNS seeds of 100,000 operations in each configuration of
# test_fsx.sh, and its regression logs replayed 3,000 times
soak: deps
	@$(MAKE) --no-print-directory all
	@FSX_RUNS=$${SOAK_RUNS:-10} FSX_OPS=$${SOAK_OPS:-100000} FSX_REPLAYS=3000 \
	  FSX_MDS_REPLICAS=3 tests/integration/test_fsx.sh
	@FSX_NODES=6 FSX_RUNS=$${SOAK_RUNS:-10} FSX_OPS=$${SOAK_EC_OPS:-20000} \
	  FSX_REPLAYS=30 FSX_MDS_REPLICAS=3 tests/integration/test_fsx.sh
	@CRASH_ALL=1 tests/integration/test_ec_crash.sh
	@MDS_HA_CYCLES=$${SOAK_FAILOVERS:-20} tests/integration/test_mds_ha.sh
	@EC_KILL_CYCLES=$${SOAK_EC_KILLS:-10} tests/integration/soak_ec_kills.sh
	@for s in 2 4; do SHARDS_S=$$s MODEL_OPS=$${SOAK_MODEL_OPS:-3000} \
	  tests/integration/test_shards.sh || exit 1; done
	@for s in $$(seq 1 $${SOAK_CACHE_SEEDS:-100}); do \
	  CFS_SEED=$$s CFS_STEPS=10000 CK_DEFAULT_TIMEOUT=300 $(BIN)/test_cache >/dev/null 2>&1 || \
	  { echo "test_cache failed: CFS_SEED=$$s $(BIN)/test_cache replays it"; exit 1; }; \
	done; echo "test_cache: $${SOAK_CACHE_SEEDS:-100} seeds passed"

# The fuzz targets (tests/fuzz), built by clang with libFuzzer, ASan and
# UBSan into build-fuzz; tests/fuzz/run runs each from its seed corpus.
$(BIN)/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(MDS_OBJ) $(OSD_OBJ) $(FUSE_CORE_OBJ) $(BUILD)/libcfscommon.a
	@mkdir -p $(BIN)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
fuzz-bin: $(FUZZ_BIN)

fuzz: deps
	@tests/deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang-14 OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" fuzz-bin
	@tests/fuzz/run build-fuzz $${FUZZ_S:-60}

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=1 tests/unit/run build-asan/bin

demo: deps all
	@deploy/local/demo

demo-down:
	@deploy/local/cfs-cluster down --dir /tmp/claudefs-demo

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(OBJ) build-asan/obj build-fuzz/obj -name '*.d' 2>/dev/null)
