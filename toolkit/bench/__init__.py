"""`nox -s bench`: the benchmarks in one run, one results document and its report.

    python -m toolkit.bench [--tier N | --services A B | --profile P] [--rounds N] [--quick]
        [--parts build,start,http,memory,stream,ai,in_process,layers,devloop] [--no-baseline]
        [--compare FILE] [--tolerance T] [--output NAME] [--report-only FILE]

The package:

- `cli` (the command: arguments, the closing summary, `--compare`), `plan` (what the arguments
  select, its steps, how long they take), `run` (each step's needs met, measured, a failure
  recorded; the document saved and its report written);
- `part`: what a part declares (needs, measure and guess, sections, markdown, chart panels,
  `--compare` figures); `parts/`: one module per figure family, found there, in running order:
  build, start, http and memory (one step), stream (with data-bridge), ai (with
  ai-orchestration), in_process, layers, devloop (last: it swaps each service's container for
  a dev one, and puts it back);
- `measure/`: how each part measures (compose, the engine, the stack's HTTP API), unchanged by
  how it is reported: build (with seed_strategy, the seed's Dockerfile built beside ours, and
  build_tools, what both share), start, resources (memory, layers), in_process, stream, ai;
- `results` (the JSON document), `report` (markdown, regressions), `chart` (the PNG), `fmt`.

The runtime parts run against the smallest profile that runs the selected services (or the
given one): it is started first when it is not running (images built when missing), and left
running. A part that fails is recorded under `errors` and the others still run; each step's
wall time is kept under `durations`, which the next run's estimate reads. The document is
saved atomically under benchmarks/results/, with its markdown and chart beside it.

This file imports nothing, so that `toolkit.bench.results` (which toolkit/devloop.py uses)
never pulls in the parts.
"""
