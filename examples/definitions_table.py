"""The competing definitions of inner alignment on the same runs: the table of compare-definitions.

Seed 002's maze examples are trained and measured once; every definition (objective-focused,
generalization-focused, optimization-focused, alpha-robust) then judges the same evidence, and
each cell where seed 002 states a verdict is checked against it. This prints the examples x
definitions table at ``--quick`` size (the command ``mesastack compare-definitions --quick``).

    python examples/definitions_table.py [--tiny] [--examples 1,2,3,4,5,6] [--out runs/definitions]
"""

import argparse

from scenarios.compare_definitions import compare_definitions, resolve_compare_params
from scenarios.machinery.registry import RunOptions

#: A very small size for tests: a few copies and mazes (the verdicts are then rough).
TINY = {"population": "2", "eval_mazes": "6", "replicator_eval_mazes": "4", "irl_mazes": "3", "irl_steps": "10",
        "probe_mazes": "2", "train_steps": "5"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="a very small size (for tests), not --quick's")
    ap.add_argument("--examples", default="1,2,3,4,5,6", help="which of seed 002's examples to run")
    ap.add_argument("--out", default=None, help="also write the run's files here")
    args = ap.parse_args(argv)

    params = resolve_compare_params(TINY if args.tiny else {}, quick=True)
    examples = tuple(int(n) for n in args.examples.split(","))
    comparison = compare_definitions(RunOptions(progress=False), params, examples=examples)
    report = comparison.result.report
    print(report.tables[0].render())
    differ = comparison.disagreements()
    print(f"\n{len(differ)} cells differ from seed 002 (findings, not errors)" if differ
          else "\nevery cell where seed 002 states a verdict agrees with this run")
    if args.out:
        comparison.result.write(args.out)
        print(f"wrote the files to {args.out}/ (report.html among them)")
    return comparison


if __name__ == "__main__":
    main()
