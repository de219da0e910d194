#!/usr/bin/env python3
"""The longest functions of src/ (lines from `fn` to its closing brace at the same indent).

    python3 scripts/long_functions.py [LIMIT] [--over N]

A function is matched from a line `<indent>[pub ...] fn name` to the first later line that is
`<indent>}`; test modules (`mod tests`) are left out. Prints `lines  file:line  name`, longest
first: the list the redesign of issue 23 keeps under about 100 lines.
"""
import pathlib
import re
import sys

FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def functions(path):
    lines = path.read_text().splitlines()
    in_tests = None
    for i, line in enumerate(lines):
        if re.match(r"^\s*mod tests\s*\{", line):
            in_tests = len(line) - len(line.lstrip())
        if in_tests is not None:
            if line.startswith(" " * in_tests + "}") and len(line.rstrip()) == in_tests + 1:
                in_tests = None
            continue
        match = FN.match(line)
        if not match or line.rstrip().endswith(";"):
            continue
        indent = match.group(1)
        for j in range(i + 1, len(lines)):
            if lines[j] == indent + "}":
                yield j - i + 1, i + 1, match.group(2)
                break


def main():
    args = sys.argv[1:]
    over = None
    if "--over" in args:
        at = args.index("--over")
        over = int(args[at + 1])
        del args[at : at + 2]
    limit = int(args[0]) if args else 25
    found = []
    for path in sorted(pathlib.Path("src").rglob("*.rs")):
        for length, line, name in functions(path):
            found.append((length, f"{path}:{line}", name))
    found.sort(reverse=True)
    if over is not None:
        found = [f for f in found if f[0] > over]
    else:
        found = found[:limit]
    for length, where, name in found:
        print(f"{length:5}  {where}  {name}")


if __name__ == "__main__":
    main()
