"""Use cases over an injected session: one function per command, returning data.

    connect.py     open/close a session (connections, helper image, job lock) in one place
    events.py      the `Events` protocol: what a workflow tells its caller while it works
    reconcile.py   validate, plan (offline, online), apply, destroy, show
    experiment.py  the experiment as a resource: status, run, owned containers
    compat.py      the original's net up/down, clean, run
    verify.py      measured RTTs against the matrix
    scaffold.py    init: a new experiment repository

The CLI (`oar_p2p.cli`) parses options, resolves settings once, opens a session with
`connect.session_scope`, calls one workflow and renders what it returns. Nothing here
imports the CLI or prints.
"""
