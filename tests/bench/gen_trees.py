#!/usr/bin/env python3
"""Make the trees tests/bench/run uses, deterministically:

  gen_trees.py DIR FILES

DIR/tree: FILES source-like text files (0.5-8 KiB) in directories of 100,
for the untar and re-read workload. DIR/proj: a C project of 200 files
and a Makefile, for the make -j2 workload."""
import os
import random
import sys

def tree(root, files):
    rnd = random.Random(42)
    words = ("static int struct return const char void unsigned long "
             "if else for while switch case break sizeof").split()
    for i in range(files):
        d = os.path.join(root, "d%03d" % (i // 100))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = rnd.randint(512, 8192)
        out, n = [], 0
        while n < size:
            line = " ".join(rnd.choice(words) for _ in range(8)) + ";\n"
            out.append(line)
            n += len(line)
        with open(os.path.join(d, "f%05d.c" % i), "w") as f:
            f.write("".join(out))

def project(root, n=200):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "lib.h"), "w") as f:
        f.write("#include <stddef.h>\n")
        for i in range(n - 1):
            f.write("long f%d(long x);\n" % i)
    for i in range(n - 1):
        with open(os.path.join(root, "f%d.c" % i), "w") as f:
            f.write('#include "lib.h"\n#include <string.h>\n')
            f.write("static long t%d[64];\n" % i)
            f.write("long f%d(long x)\n{\n\tlong s = 0;\n" % i)
            f.write("\tfor (size_t k = 0; k < 64; k++) {\n")
            f.write("\t\tt%d[k] = x * (long)k + %d;\n" % (i, i))
            f.write("\t\ts += t%d[k] %% %d;\n\t}\n" % (i, i + 7))
            f.write("\treturn s;\n}\n")
    with open(os.path.join(root, "main.c"), "w") as f:
        f.write('#include "lib.h"\n#include <stdio.h>\nint main(void)\n{\n')
        f.write("\tlong s = 0;\n")
        for i in range(n - 1):
            f.write("\ts += f%d(%d);\n" % (i, i))
        f.write('\tprintf("%ld\\n", s);\n\treturn 0;\n}\n')
    with open(os.path.join(root, "Makefile"), "w") as f:
        f.write("SRC := $(wildcard *.c)\nOBJ := $(SRC:.c=.o)\n")
        f.write("CFLAGS := -O2 -Wall\n")
        f.write("prog: $(OBJ)\n\t$(CC) -o $@ $^\n")
        f.write("%.o: %.c lib.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n")

if __name__ == "__main__":
    tree(os.path.join(sys.argv[1], "tree"), int(sys.argv[2]))
    project(os.path.join(sys.argv[1], "proj"))
