# SPDX-License-Identifier: Apache-2.0
"""blazen: distributed Blazen workflows over a C++ peer.

The public surface follows upstream Blazen's Python peer API (``BlazenPeerServer``,
``BlazenPeerClient``, ``SubWorkflowRequest`` ...), backed by the C++ client and server of
blazen-peer. Importing the package registers the node's built-in steps (``blazen::echo``,
``blazen::embed``, ...). Beyond upstream: Python callables can be registered as steps, TLS
configs are applied, ``_SessionRegistryHandle`` is usable, tensor refs decode to numpy, and
``deref_to_file`` streams refs of any size to disk.
"""

from __future__ import annotations

# Re-exports: __all__ below, plus the exception subclasses and _SessionRegistryHandle, which are
# public too (upstream's names), and _Descriptor, the base class the stub names.
from . import (_async, _client, _errors, _functions, _json, _native, _pool, _registry, _server,
               _types)
from ._client import BlazenPeerClient, HttpPeerClient
from ._errors import (BlazenError, PeerDeadlineExceededError, PeerEncodeError,
                      PeerEnvelopeVersionError, PeerError, PeerInvalidArgumentError,
                      PeerNotFoundError, PeerResourceExhaustedError, PeerTlsError,
                      PeerTransportError, PeerUnauthenticatedError, PeerUnknownStepError,
                      PeerWorkflowError)
from ._functions import (load_client_tls, load_server_tls, lookup_step_builder,
                         register_step_builder, registered_step_ids, resolve_peer_token, step,
                         tensor_from_payload)
from ._pool import PeerPool
from ._registry import (RegistryKey, SessionRefRegistry, StepDeserializerRegistry,
                        _SessionRegistryHandle)
from ._server import BlazenPeerServer
from ._steps import Event, StartEvent, StepContext, StopEvent
from ._types import (ENVELOPE_VERSION, PEER_TOKEN_ENV, ClientTlsConfig, DerefFileResult,
                     DerefRequest, DerefResponse, PeerRemoteRefDescriptor, RefLifetime,
                     ReleaseRequest, ReleaseResponse, RemoteRefDescriptor, ServedBy,
                     ServerTlsConfig, SubWorkflowRequest, SubWorkflowResponse, _Descriptor)

__all__ = [
    "BlazenError",
    "BlazenPeerClient",
    "BlazenPeerServer",
    "ClientTlsConfig",
    "DerefFileResult",
    "DerefRequest",
    "DerefResponse",
    "ENVELOPE_VERSION",
    "Event",
    "HttpPeerClient",
    "PEER_TOKEN_ENV",
    "PeerError",
    "PeerPool",
    "PeerRemoteRefDescriptor",
    "RefLifetime",
    "RegistryKey",
    "ReleaseRequest",
    "ReleaseResponse",
    "RemoteRefDescriptor",
    "ServedBy",
    "ServerTlsConfig",
    "SessionRefRegistry",
    "StartEvent",
    "StepContext",
    "StepDeserializerRegistry",
    "StopEvent",
    "SubWorkflowRequest",
    "SubWorkflowResponse",
    "load_client_tls",
    "load_server_tls",
    "lookup_step_builder",
    "register_step_builder",
    "registered_step_ids",
    "resolve_peer_token",
    "step",
    "tensor_from_payload",
]

# What the implementation modules define presents itself as `blazen.X` (reprs, pickling, help()),
# as when this file defined it all; the classes of _steps keep their module.
_types._present_as(__name__, globals().values(),
                   (_client, _errors, _functions, _pool, _registry, _server, _types))
