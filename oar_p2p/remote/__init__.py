"""The edge to the machines: transport protocol, SSH implementation, executors, pool.

Import the submodules directly (`oar_p2p.remote.ssh` pulls in paramiko); this package
re-exports only the light protocol types.
"""

from oar_p2p.remote.transport import CommandResult, LocalTransport, Transport

__all__ = ["CommandResult", "LocalTransport", "Transport"]
