from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.problem_out_checks import ProblemOutChecks
    from ..models.problem_out_errors import ProblemOutErrors


T = TypeVar("T", bound="ProblemOut")


@_attrs_define
class ProblemOut:
    """
    Attributes:
        detail (str):  Example: The requested time range is not available..
        error (str): The same stable code as the JSON errors. Example: time_range_unavailable.
        instance (str):  Example: /appointments.
        status (int):  Example: 409.
        title (str):  Example: Time range unavailable.
        type_ (str):  Example: urn:sesame:problem:time_range_unavailable.
        checks (ProblemOutChecks | Unset):
        conflicts (list[int] | Unset):  Example: [7].
        errors (ProblemOutErrors | Unset): Per-field messages, for validation_failed.
    """

    detail: str
    error: str
    instance: str
    status: int
    title: str
    type_: str
    checks: ProblemOutChecks | Unset = UNSET
    conflicts: list[int] | Unset = UNSET
    errors: ProblemOutErrors | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        error = self.error

        instance = self.instance

        status = self.status

        title = self.title

        type_ = self.type_

        checks: dict[str, Any] | Unset = UNSET
        if not isinstance(self.checks, Unset):
            checks = self.checks.to_dict()

        conflicts: list[int] | Unset = UNSET
        if not isinstance(self.conflicts, Unset):
            conflicts = self.conflicts

        errors: dict[str, Any] | Unset = UNSET
        if not isinstance(self.errors, Unset):
            errors = self.errors.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "detail": detail,
                "error": error,
                "instance": instance,
                "status": status,
                "title": title,
                "type": type_,
            }
        )
        if checks is not UNSET:
            field_dict["checks"] = checks
        if conflicts is not UNSET:
            field_dict["conflicts"] = conflicts
        if errors is not UNSET:
            field_dict["errors"] = errors

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.problem_out_checks import ProblemOutChecks  # noqa: PLC0415
        from ..models.problem_out_errors import ProblemOutErrors  # noqa: PLC0415

        d = dict(src_dict)
        detail = d.pop("detail")

        error = d.pop("error")

        instance = d.pop("instance")

        status = d.pop("status")

        title = d.pop("title")

        type_ = d.pop("type")

        _checks = d.pop("checks", UNSET)
        checks: ProblemOutChecks | Unset
        if isinstance(_checks, Unset):
            checks = UNSET
        else:
            checks = ProblemOutChecks.from_dict(_checks)

        conflicts = cast(list[int], d.pop("conflicts", UNSET))

        _errors = d.pop("errors", UNSET)
        errors: ProblemOutErrors | Unset
        if isinstance(_errors, Unset):
            errors = UNSET
        else:
            errors = ProblemOutErrors.from_dict(_errors)

        problem_out = cls(
            detail=detail,
            error=error,
            instance=instance,
            status=status,
            title=title,
            type_=type_,
            checks=checks,
            conflicts=conflicts,
            errors=errors,
        )

        return problem_out
