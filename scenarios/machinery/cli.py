"""The ``mesastack`` command.

    mesastack list
    mesastack describe SCENARIO
    mesastack run SCENARIO [--seed N] [--steps T] [--out DIR] [--estimator limit|finite] [--tail W]
                           [--horizon N] [--set NAME=VALUE ...] [--no-progress]
                           [--resume] [--executor inprocess|dask] [--scheduler ADDRESS] [--workers N] [--force]
    mesastack compare-definitions [--seed N] [--seeds N] [--out DIR] [--quick] [--set NAME=VALUE ...]
                                  [--estimator limit|finite] [--tail W] [--no-progress] [--force]

``--out`` must be empty, or an output of the same scenario (its ``mesastack.json``), unless
``--force`` (:func:`scenarios.machinery.output.check_folder`). A user mistake prints one line
(``mesastack: error: ...``) and exits with status 2; Ctrl-C prints one line, leaves no half-written file, and exits with status 130. The core's
messages never name a flag: an error about one parameter carries its name
(``MesastackError.parameter``) and the CLI appends the option that sets it (:data:`FLAGS`).
The sweep options (``--resume``, ``--executor``, ``--scheduler``, ``--workers``) are refused on
a scenario that is not a sweep, and ``--workers`` / ``--scheduler`` without ``--executor dask``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hierarchy.errors import MesastackError, ParameterError
from hierarchy.estimator import Estimator

__all__ = ["FLAGS", "build_parser", "closing_lines", "describe", "main"]

#: The command-line option that sets each parameter a core error may name.
FLAGS = {"seed": "--seed N", "steps": "--steps T", "horizon": "--horizon N", "out": "--out DIR",
         "resume": "--resume", "executor": "--executor", "scheduler": "--scheduler ADDRESS", "workers": "--workers N",
         "tail": "--tail W"}


def _line(exc: MesastackError) -> str:
    hint = FLAGS.get(getattr(exc, "parameter", None))
    return f"{exc} (option {hint})" if hint else str(exc)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise ParameterError(f"{message}; see `{self.prog} --help`")


def _params(pairs) -> dict:
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise ParameterError(f"--set takes NAME=VALUE, got {item!r}; e.g. --set width=3")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mesastack", description="Simulate hierarchies of optimizers and measure the capability "
                                               "and alignment of each on real training runs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="name the scenarios")
    d = sub.add_parser("describe", help="list a scenario's parameters with their defaults, types and meanings")
    d.add_argument("scenario", help="scenario name (see `mesastack list`), or compare-definitions")
    r = sub.add_parser("run", help="run a scenario, print its table and claims, write its files")
    r.add_argument("scenario", help="scenario name (see `mesastack list`)")
    r.add_argument("--seed", type=int, default=0, help="the one seed every random number flows from (default 0)")
    r.add_argument("--steps", type=int, default=None, help="steps of each leaf run (default: the scenario's)")
    r.add_argument("--out", default=None, help="output directory (default runs/SCENARIO)")
    r.add_argument("--estimator", choices=["limit", "finite"], default="limit",
                   help="capability estimator (Definition 1): limit = L(0) - tail mean (default), finite = literal sum")
    r.add_argument("--tail", type=float, default=0.25, help="tail fraction of the limit estimator (default 0.25)")
    r.add_argument("--horizon", type=int, default=None,
                   help="add strong alignment: the worst base-objective value over the next N steps")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="change a scenario parameter (repeatable)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--force", action="store_true",
                   help="write into --out even when it is not empty and not an output of this scenario "
                        "(what an earlier mesastack run wrote there is replaced)")
    r.add_argument("--resume", action="store_true",
                   help="sweeps: reuse the trials already finished in --out instead of running them again")
    r.add_argument("--executor", choices=["inprocess", "dask"], default=None,
                   help="sweeps: run trials in this process (default) or on a Dask cluster")
    r.add_argument("--scheduler", default=None,
                   help="with --executor dask: address of an existing scheduler (default: a LocalCluster here)")
    r.add_argument("--workers", type=int, default=None,
                   help="with --executor dask and no --scheduler: LocalCluster workers (default: one per core)")
    c = sub.add_parser("compare-definitions",
                       help="run seed 002's maze examples and tabulate every definition of inner alignment on them")
    c.add_argument("--seed", type=int, default=0, help="the one seed every random number flows from (default 0)")
    c.add_argument("--seeds", type=int, default=1,
                   help="run the examples on N scenario seeds (--seed, --seed + 1, ...) and report each cell's "
                        "agreement with seed 002 as a rate over seeds (default 1)")
    c.add_argument("--out", default=None, help="output directory (default runs/compare-definitions)")
    c.add_argument("--quick", action="store_true",
                   help="a smaller population and fewer evaluation mazes (training unchanged)")
    c.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="change a comparison parameter (repeatable), e.g. --set population=4")
    c.add_argument("--estimator", choices=["limit", "finite"], default="limit",
                   help="capability estimator (Definition 1): limit = L(0) - tail mean (default), finite = literal sum")
    c.add_argument("--tail", type=float, default=0.25, help="tail fraction of the limit estimator (default 0.25)")
    c.add_argument("--no-progress", action="store_true", help="no progress bars")
    c.add_argument("--force", action="store_true",
                   help="write into --out even when it is not empty and not an output of this scenario "
                        "(what an earlier mesastack run wrote there is replaced)")
    return p


def _compare(args) -> int:
    from scenarios.compare_definitions import compare_definitions, resolve_compare_params
    from scenarios.machinery.output import prepare_output, write_result
    from scenarios.machinery.registry import RunOptions

    out = Path(args.out) if args.out else Path("runs") / "compare-definitions"
    params = resolve_compare_params(_params(args.set), quick=args.quick)
    options = RunOptions(seed=args.seed, estimator=Estimator(args.estimator, tail=args.tail),
                         progress=not args.no_progress)
    prepare_output(out, "compare-definitions", args.force)  # fail before a long run, not after
    comparison = compare_definitions(options, params, seeds=args.seeds)
    print(comparison.result.report.render())
    written = write_result(comparison.result, out, force=args.force)
    print(f"\nwrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    differ = comparison.disagreements()
    print(f"{len(differ)} cells do not agree with seed 002 on every seed (split, undecided or disagreeing; findings, "
          f"listed in the notes above)" if differ
          else "every cell where seed 002 states a verdict agrees with this run on every seed")
    return 0


def describe(name: str) -> str:
    """The parameters of scenario ``name`` as a table: name, default, type, meaning.

    Parameters
    ----------
    name : str
        A registered scenario, or ``compare-definitions``.

    Returns
    -------
    str
        One line per parameter, read from the parameter class's own attrs fields.

    Raises
    ------
    ScenarioError
        For an unknown scenario.

    Examples
    --------
    >>> print(describe("harris-abc").splitlines()[0])
    harris-abc: seed 000: optimizers A, B, C under a designer; true objective vs base objective
    """
    from scenarios.machinery.registry import get_scenario, parameter_rows

    if name == "compare-definitions":
        from scenarios.compare_definitions import CompareParams

        title, params, extra = "compare-definitions: every definition of inner alignment on the maze examples", \
            CompareParams, ""
    else:
        spec = get_scenario(name)
        title, params = f"{spec.name}: {spec.summary}", spec.params
        extra = f"default steps {spec.default_steps}" + (
            "; a sweep: takes --resume, --executor, --scheduler, --workers" if spec.takes else "")
    rows = parameter_rows(params)
    widths = [max(len(r[i]) for r in rows + [("parameter", "default", "type", "")]) for i in range(3)]
    head = ("parameter", "default", "type", "meaning")
    lines = [title] + ([extra] if extra else []) + ["change with --set NAME=VALUE (tuples as 1,2,4)", ""]
    for r in [head] + rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
    return "\n".join(lines)


def _refuse_options(args, spec) -> None:
    if args.workers is not None and args.executor != "dask":
        raise ParameterError("--workers sets the size of a local Dask cluster; add --executor dask or drop --workers")
    if args.scheduler is not None and args.executor != "dask":
        raise ParameterError("--scheduler is the address of a Dask cluster; add --executor dask or drop --scheduler")
    given = [f for f, on in (("--resume", args.resume), ("--executor", args.executor is not None),
                             ("--scheduler", args.scheduler is not None), ("--workers", args.workers is not None)) if on]
    refused = [f for f in given if f.lstrip("-") not in spec.takes]
    if refused:
        from scenarios.machinery.registry import list_scenarios

        sweeps = ", ".join(s.name for s in list_scenarios() if s.takes) or "none"
        one = len(refused) == 1
        raise ParameterError(f"scenario {spec.name} is not a sweep: {', '.join(refused)} "
                             f"{'applies' if one else 'apply'} to sweeps only ({sweeps}); drop {'it' if one else 'them'}")


def closing_lines(claims) -> str:
    """The run's last lines: each replicated claim's seed counts and pooled verdict, then the
    tally of verdicts (a claim that fails or stays undecided is a finding, not hidden)."""
    lines = []
    for c in claims:
        if c.seeds is not None:
            lines.append(f"{c.text.split(':')[0]}: {c.seeds.describe()} -> {c.label}")
    tally = {v: sum(c.verdict == v for c in claims) for v in ("holds", "fails", "undecided")}
    if claims:
        lines.append(f"claims: {tally['holds']} hold, {tally['fails']} fail, {tally['undecided']} undecided "
                     f"(of {len(claims)}; each decided by its margin against its resolution, reported above)")
    return "\n".join(lines)


def main(argv=None) -> int:
    """The ``mesastack`` command: its exit status (0, 2 for a user's mistake, 130 when interrupted)."""
    from scenarios.machinery.garbage_collection import fewer_collections

    with fewer_collections():  # the command's own objects: the collector runs less often (set back afterwards)
        return _main(argv)


def _main(argv) -> int:
    from scenarios.machinery.registry import RunOptions, list_scenarios, run_scenario

    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            for s in list_scenarios():
                print(f"{s.name:28s} {s.summary}")
            return 0
        if args.command is None:
            build_parser().print_help()
            return 0
        if args.command == "describe":
            print(describe(args.scenario))
            return 0
        if args.command == "compare-definitions":
            return _compare(args)
        from scenarios.machinery.output import prepare_output, write_result
        from scenarios.machinery.registry import get_scenario, resolve_params

        _refuse_options(args, get_scenario(args.scenario))
        out = Path(args.out) if args.out else Path("runs") / args.scenario
        options = RunOptions(seed=args.seed, steps=args.steps, estimator=Estimator(args.estimator, tail=args.tail),
                             horizon=args.horizon, progress=not args.no_progress, params=_params(args.set),
                             out=str(out), resume=args.resume, executor=args.executor or "inprocess",
                             scheduler=args.scheduler, workers=args.workers)
        resolve_params(get_scenario(args.scenario), options.params)  # a bad --set value first, before any folder
        prepare_output(out, args.scenario, args.force)  # fail before a long run, not after
        result = run_scenario(args.scenario, options)
        print(result.report.render())
        written = write_result(result, out, force=args.force)
        print(f"\nwrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
        print(closing_lines(result.report.claims))
        return 0
    except MesastackError as exc:
        print(f"mesastack: error: {_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mesastack: interrupted; no file of this run was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
