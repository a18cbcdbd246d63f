"""A teacher's demo of seed 000's optimizers A, B and C (scenario harris-abc), small enough for a class.

A designer wants a low cross-entropy L; gradient descent, to which the work is delegated,
drives its true objective G (the squared gradient norm) to zero. A starts from a good
initialization with a decaying learning rate; B from a perturbed start that settles in a
worse basin; C from A's start with a constant learning rate, so it keeps orbiting. The run
prints, for each optimizer, its capability C(L) and C(G) (Definition 1) and its alignment
alpha = C(L) / C(G) with the designer (Definition 2), then the claims of seed 000 with
their verdicts, and writes report.html to show the room (graph, tables, claims, plots).

    python examples/teacher_abc.py [--steps 6000] [--seeds 2] [--out runs/teacher-abc]
"""

import argparse

from scenarios.machinery.registry import RunOptions, run_scenario


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seeds", type=int, default=2, help="independent scenario seeds (16 for the full run)")
    ap.add_argument("--small-search", action="store_true", help="a smaller search for B (for quick tests)")
    ap.add_argument("--out", default="runs/teacher-abc")
    args = ap.parse_args(argv)

    params = {"seeds": str(args.seeds)}
    if args.small_search:
        params |= {"candidates": "8", "init_population": "4", "search_norms": "1.0"}
    result = run_scenario("harris-abc", RunOptions(steps=args.steps, progress=False, params=params))
    report = result.report

    print(report.main_table().render())
    print("\nwhat each optimizer achieved (median over copies):")
    for f in report.alignments:
        c_l = report.measurements.capability(f.chain, f.base_objective).capability.median
        c_g = report.measurements.capability(f.chain, f.mesa_objective).capability.median
        print(f"  {f.chain}: C(L) = {c_l:.4g}, C(G) = {c_g:.4g}, alpha = C(L)/C(G) = {f.alignment.median:.4g} "
              f"(normalized {f.normalized.median:.4g})")
    print("\nthe claims of seed 000:")
    for c in report.claims:
        seeds = f" ({c.seeds.describe()})" if c.seeds is not None else ""
        print(f"  [{c.label}] {c.text}{seeds}")
    written = result.write(args.out)
    print(f"\nwrote {len(written)} files; show {args.out}/report.html to the room")
    return result


if __name__ == "__main__":
    main()
