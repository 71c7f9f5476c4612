"""The `inv` commands, a module per concern, gathered into one invoke collection.

- `prepare`: doctor, images, wheels, lock, render, env (a machine and the stack's files)
- `running`: build, up, health, ps, logs, restart, exec, clean, down (the stack itself)
- `dev`: dev mode
- `swarm`: deploy (a profile on Docker Swarm), scale, rollback

Defaults users may change live in invoke's configuration under `tiered` (an `invoke.yaml`
beside tasks.py, `~/.invoke.yaml`, or `INVOKE_TIERED_PROFILE=data` in the environment):
`profile` (what `inv up` starts: core), `timeout` (seconds `inv up` waits for health: 300)
and `tail` (lines `inv logs` shows: 100)."""

from invoke import Collection

from toolkit.commands import common, dev, prepare, running, swarm

namespace = Collection()
for module in (prepare, running, dev, swarm):
    for task in Collection.from_module(module).tasks.values():
        namespace.add_task(task)
namespace.configure({"tiered": dict(common.DEFAULTS)})
