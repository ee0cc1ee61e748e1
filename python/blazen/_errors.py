# SPDX-License-Identifier: Apache-2.0
"""The exception classes (registered by ``blazen._native``, ``PeerError`` the base of every peer
failure) and how the pure-Python layer raises them with the native code and kind."""

from __future__ import annotations

from . import _native

BlazenError = _native.BlazenError
PeerError = _native.PeerError
PeerTransportError = _native.PeerTransportError
PeerEncodeError = _native.PeerEncodeError
PeerEnvelopeVersionError = _native.PeerEnvelopeVersionError
PeerWorkflowError = _native.PeerWorkflowError
PeerTlsError = _native.PeerTlsError
PeerUnknownStepError = _native.PeerUnknownStepError
PeerUnauthenticatedError = _native.PeerUnauthenticatedError
PeerNotFoundError = _native.PeerNotFoundError
PeerDeadlineExceededError = _native.PeerDeadlineExceededError
PeerResourceExhaustedError = _native.PeerResourceExhaustedError
PeerInvalidArgumentError = _native.PeerInvalidArgumentError


def _error(cls: type, message: str, code: str, kind: str) -> BaseException:
    exc = cls(message)
    exc.code = code
    exc.kind = kind
    return exc


def _invalid(message: str) -> BaseException:
    return _error(PeerInvalidArgumentError, message, "INVALID_ARGUMENT", "invalid_argument")
