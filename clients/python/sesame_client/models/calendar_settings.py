from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.calendar_settings_hours_type_0 import CalendarSettingsHoursType0
    from ..models.calendar_settings_overrides import CalendarSettingsOverrides


T = TypeVar("T", bound="CalendarSettings")


@_attrs_define
class CalendarSettings:
    """
    Attributes:
        buffer_after (int | Unset): Minutes kept free after each appointment (0-1440). Default: 0. Example: 0.
        buffer_before (int | Unset): Minutes kept free before each appointment (0-1440). Default: 0. Example: 0.
        calendar (str | Unset): The path's calendar. Ignored in a PUT. Example: dr-lee.
        enforce (bool | Unset): Refuse writes outside open time (409 `outside_hours`) or whose range with buffers meets
            another appointment's (409 `time_range_unavailable`). Default: False. Example: True.
        horizon (int | Unset): Slots start less than this many days from now. Default: 365. Example: 60.
        hours (CalendarSettingsHoursType0 | None | Unset): Weekly open hours, local to `timeZone`: weekday to intervals.
            A weekday left out is closed; null (the default) is open at all times. Example: {'fri': [['22:00', '02:00']],
            'mon': [['09:00', '12:00'], ['13:00', '17:00']]}.
        minimum_notice (int | Unset): Slots start at least this many minutes from now. Default: 0. Example: 0.
        overrides (CalendarSettingsOverrides | Unset): Local date `YYYY-MM-DD` to the intervals that replace that date's
            weekly ones; `[]` closes the day. At most 1000 dates. Example: {'2027-12-24': [['09:00', '12:00']],
            '2027-12-25': []}.
        time_zone (str | Unset): An IANA time zone name. Default: 'UTC'. Example: America/New_York.
        updated_at (None | str | Unset): When the last PUT was recorded (null before). Ignored in a PUT. Example:
            2027-01-04T10:00:00.000Z.
        version (int | Unset): 0 until the first PUT, +1 per PUT. Ignored in a PUT. Example: 3.
    """

    buffer_after: int | Unset = 0
    buffer_before: int | Unset = 0
    calendar: str | Unset = UNSET
    enforce: bool | Unset = False
    horizon: int | Unset = 365
    hours: CalendarSettingsHoursType0 | None | Unset = UNSET
    minimum_notice: int | Unset = 0
    overrides: CalendarSettingsOverrides | Unset = UNSET
    time_zone: str | Unset = "UTC"
    updated_at: None | str | Unset = UNSET
    version: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.calendar_settings_hours_type_0 import CalendarSettingsHoursType0  # noqa: PLC0415

        buffer_after = self.buffer_after

        buffer_before = self.buffer_before

        calendar = self.calendar

        enforce = self.enforce

        horizon = self.horizon

        hours: dict[str, Any] | None | Unset
        if isinstance(self.hours, Unset):
            hours = UNSET
        elif isinstance(self.hours, CalendarSettingsHoursType0):
            hours = self.hours.to_dict()
        else:
            hours = self.hours

        minimum_notice = self.minimum_notice

        overrides: dict[str, Any] | Unset = UNSET
        if not isinstance(self.overrides, Unset):
            overrides = self.overrides.to_dict()

        time_zone = self.time_zone

        updated_at: None | str | Unset
        if isinstance(self.updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = self.updated_at

        version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if buffer_after is not UNSET:
            field_dict["bufferAfter"] = buffer_after
        if buffer_before is not UNSET:
            field_dict["bufferBefore"] = buffer_before
        if calendar is not UNSET:
            field_dict["calendar"] = calendar
        if enforce is not UNSET:
            field_dict["enforce"] = enforce
        if horizon is not UNSET:
            field_dict["horizon"] = horizon
        if hours is not UNSET:
            field_dict["hours"] = hours
        if minimum_notice is not UNSET:
            field_dict["minimumNotice"] = minimum_notice
        if overrides is not UNSET:
            field_dict["overrides"] = overrides
        if time_zone is not UNSET:
            field_dict["timeZone"] = time_zone
        if updated_at is not UNSET:
            field_dict["updatedAt"] = updated_at
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.calendar_settings_hours_type_0 import CalendarSettingsHoursType0  # noqa: PLC0415
        from ..models.calendar_settings_overrides import CalendarSettingsOverrides  # noqa: PLC0415

        d = dict(src_dict)
        buffer_after = d.pop("bufferAfter", UNSET)

        buffer_before = d.pop("bufferBefore", UNSET)

        calendar = d.pop("calendar", UNSET)

        enforce = d.pop("enforce", UNSET)

        horizon = d.pop("horizon", UNSET)

        def _parse_hours(data: object) -> CalendarSettingsHoursType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hours_type_0 = CalendarSettingsHoursType0.from_dict(data)

                return hours_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CalendarSettingsHoursType0 | None | Unset, data)

        hours = _parse_hours(d.pop("hours", UNSET))

        minimum_notice = d.pop("minimumNotice", UNSET)

        _overrides = d.pop("overrides", UNSET)
        overrides: CalendarSettingsOverrides | Unset
        if isinstance(_overrides, Unset):
            overrides = UNSET
        else:
            overrides = CalendarSettingsOverrides.from_dict(_overrides)

        time_zone = d.pop("timeZone", UNSET)

        def _parse_updated_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        updated_at = _parse_updated_at(d.pop("updatedAt", UNSET))

        version = d.pop("version", UNSET)

        calendar_settings = cls(
            buffer_after=buffer_after,
            buffer_before=buffer_before,
            calendar=calendar,
            enforce=enforce,
            horizon=horizon,
            hours=hours,
            minimum_notice=minimum_notice,
            overrides=overrides,
            time_zone=time_zone,
            updated_at=updated_at,
            version=version,
        )

        return calendar_settings
