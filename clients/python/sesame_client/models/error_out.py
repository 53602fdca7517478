from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_out_checks import ErrorOutChecks
    from ..models.error_out_errors import ErrorOutErrors


T = TypeVar("T", bound="ErrorOut")


@_attrs_define
class ErrorOut:
    """
    Attributes:
        error (str): Stable snake_case code. Example: time_range_unavailable.
        message (str):  Example: The requested time range is not available..
        status_code (int):  Example: 409.
        checks (ErrorOutChecks | Unset): What failed, for not_ready. Example: {'database': 'down'}.
        conflicts (list[int] | Unset): Ids in the way, for time_range_unavailable. Example: [7].
        errors (ErrorOutErrors | Unset): Per-field messages, for validation_failed.
        timestamp (Any | Unset):
    """

    error: str
    message: str
    status_code: int
    checks: ErrorOutChecks | Unset = UNSET
    conflicts: list[int] | Unset = UNSET
    errors: ErrorOutErrors | Unset = UNSET
    timestamp: Any | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        error = self.error

        message = self.message

        status_code = self.status_code

        checks: dict[str, Any] | Unset = UNSET
        if not isinstance(self.checks, Unset):
            checks = self.checks.to_dict()

        conflicts: list[int] | Unset = UNSET
        if not isinstance(self.conflicts, Unset):
            conflicts = self.conflicts

        errors: dict[str, Any] | Unset = UNSET
        if not isinstance(self.errors, Unset):
            errors = self.errors.to_dict()

        timestamp = self.timestamp

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "error": error,
                "message": message,
                "statusCode": status_code,
            }
        )
        if checks is not UNSET:
            field_dict["checks"] = checks
        if conflicts is not UNSET:
            field_dict["conflicts"] = conflicts
        if errors is not UNSET:
            field_dict["errors"] = errors
        if timestamp is not UNSET:
            field_dict["timestamp"] = timestamp

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_out_checks import ErrorOutChecks  # noqa: PLC0415
        from ..models.error_out_errors import ErrorOutErrors  # noqa: PLC0415

        d = dict(src_dict)
        error = d.pop("error")

        message = d.pop("message")

        status_code = d.pop("statusCode")

        _checks = d.pop("checks", UNSET)
        checks: ErrorOutChecks | Unset
        if isinstance(_checks, Unset):
            checks = UNSET
        else:
            checks = ErrorOutChecks.from_dict(_checks)

        conflicts = cast(list[int], d.pop("conflicts", UNSET))

        _errors = d.pop("errors", UNSET)
        errors: ErrorOutErrors | Unset
        if isinstance(_errors, Unset):
            errors = UNSET
        else:
            errors = ErrorOutErrors.from_dict(_errors)

        timestamp = d.pop("timestamp", UNSET)

        error_out = cls(
            error=error,
            message=message,
            status_code=status_code,
            checks=checks,
            conflicts=conflicts,
            errors=errors,
            timestamp=timestamp,
        )

        return error_out
