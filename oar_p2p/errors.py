"""The exceptions oar-p2p raises, drawn once.

    OarP2PError                     every error the CLI reports as one line, exit 1
    ├── InputError                  bad input the user can fix in a file or a flag
    │   ├── SpecError               experiment spec (file, line, col)
    │   ├── MatrixError             latency matrix (file, line, col)
    │   ├── ScheduleError           `run` schedule (file, line, col)
    │   ├── ValueParseError         a flag or env value (policy, signal, ...)
    │   └── FlagError               a flag that does not apply, or flags that exclude each other
    ├── ClusterError                talking to the cluster went wrong
    │   ├── ConnectError            could not reach / authenticate to a host
    │   ├── HostKeyError            host key unknown or changed
    │   ├── RemoteCommandError      a remote script failed (host, command, status, stderr)
    │   │   └── CommandTimeoutError a remote script did not finish in time
    │   ├── OarError                oarstat / job discovery
    │   └── ForeignStateError       something not ours is where the spec needs ours
    ├── PlanStaleError              a saved plan no longer matches the machines
    ├── LockError                   another apply holds the lock
    └── TestbedError                the local test cluster could not be built / reached

Foreign exceptions (paramiko, socket, yaml, pydantic) are mapped to these at the boundary
where they happen; the CLI never shows a traceback for any of them.
"""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "CommandTimeoutError",
    "ConnectError",
    "FlagError",
    "ForeignStateError",
    "HostKeyError",
    "InputError",
    "LockError",
    "MatrixError",
    "OarError",
    "OarP2PError",
    "PlanStaleError",
    "RemoteCommandError",
    "ScheduleError",
    "SpecError",
    "TestbedError",
    "ValueParseError",
]


class OarP2PError(Exception):
    """Base of every error the tool reports to the user."""


class InputError(OarP2PError):
    """Bad input, located in a file when possible: ``file:line:col: message``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        super().__init__(self.located())

    def located(self) -> str:
        parts = [p for p in (self.file, self.line, self.col) if p is not None]
        prefix = ":".join(str(p) for p in parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class SpecError(InputError):
    """An experiment spec is invalid."""


class MatrixError(InputError):
    """A latency matrix is invalid."""


class ScheduleError(InputError):
    """A `run` schedule is invalid."""


class ValueParseError(InputError):
    """A single value (flag, env var, spec string) does not follow its rule."""


class FlagError(InputError):
    """A flag that cannot take effect here (it would be silently ignored), or two flags that
    exclude each other; the message names them and says why."""


class ClusterError(OarP2PError):
    """Something went wrong while talking to the cluster."""


class ConnectError(ClusterError):
    """A host could not be reached or refused us."""


class HostKeyError(ConnectError):
    """A host key is unknown (strict mode) or does not match known_hosts."""


class RemoteCommandError(ClusterError):
    """A remote command exited non-zero."""

    def __init__(self, host: str, command: str, status: int, stderr: str) -> None:
        self.host = host
        self.command = command
        self.status = status
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-10:])
        msg = f"{host}: `{command}` exited with status {status}"
        if tail:
            msg += f": {tail}"
        super().__init__(msg)


class CommandTimeoutError(RemoteCommandError):
    """A remote command did not finish within its timeout (its status is unknown: -1)."""

    def __init__(self, host: str, command: str, timeout: float, stderr: str) -> None:
        self.timeout = timeout
        ClusterError.__init__(self, f"{host}: `{command}` did not finish within {timeout:g} s")
        self.host = host
        self.command = command
        self.status = -1
        self.stderr = stderr


class OarError(ClusterError):
    """OAR job discovery failed."""


class PlanStaleError(OarP2PError):
    """A saved plan was made against a state the machines no longer have."""


class LockError(OarP2PError):
    """Another apply holds the lock."""


class TestbedError(OarP2PError):
    """The local test cluster could not be built, started or reached."""

    __test__ = False  # not a pytest test class


class ForeignStateError(ClusterError):
    """A machine holds state the tool did not make where the spec needs its own (e.g. a
    foreign root qdisc on the cluster interface); the tool refuses to take it over."""
