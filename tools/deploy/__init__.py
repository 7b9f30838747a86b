"""`make deploy` / `make destroy`: one stack of the function and everything around it, with tccli.

Read in this order; each module imports only those above it:

- `tccli.py`: the one way out (`Tccli`, a call through the real tccli) and the errors a call can end in;
- `desired.py`: what the template, the stack file (tools/stack.py) and the shell ask for;
- `resources/`: every resource, one class each, by service (`cam`, `cls`, `scf`, `monitor`), and `base.py`,
  what a resource may use of the run (`Context`) and the comparisons that decide keep or update;
- `plan.py`: the run (`Deployer`): the checks that refuse a plan, the walk forward (apply) or backward
  (destroy), ownership, and the lines it prints;
- `cli.py`: the command line (`python -m tools.deploy`).
"""
