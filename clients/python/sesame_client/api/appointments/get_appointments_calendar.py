from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_out import ErrorOut
from ...models.get_appointments_calendar_status import GetAppointmentsCalendarStatus
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    limit: int | Unset = 100,
    offset: int | Unset = 0,
    calendar: str | Unset = UNSET,
    status: GetAppointmentsCalendarStatus | Unset = GetAppointmentsCalendarStatus.ACTIVE,
    at: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["from"] = from_

    params["to"] = to

    params["limit"] = limit

    params["offset"] = offset

    params["calendar"] = calendar

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["at"] = at

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/appointments.ics",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorOut | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 400:
        response_400 = ErrorOut.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorOut.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorOut.from_dict(response.json())

        return response_403

    if response.status_code == 429:
        response_429 = ErrorOut.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorOut.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorOut.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorOut | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    limit: int | Unset = 100,
    offset: int | Unset = 0,
    calendar: str | Unset = UNSET,
    status: GetAppointmentsCalendarStatus | Unset = GetAppointmentsCalendarStatus.ACTIVE,
    at: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[ErrorOut | str]:
    """The book as an iCalendar feed

    Args:
        from_ (str | Unset):  Example: 2026-12-01 00:00.
        to (str | Unset):  Example: 2026-12-02 00:00.
        limit (int | Unset):  Default: 100. Example: 100.
        offset (int | Unset):  Default: 0.
        calendar (str | Unset):  Example: room-1.
        status (GetAppointmentsCalendarStatus | Unset):  Default:
            GetAppointmentsCalendarStatus.ACTIVE.
        at (str | Unset):  Example: 2026-11-26T08:00:01.234Z.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | str]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        limit=limit,
        offset=offset,
        calendar=calendar,
        status=status,
        at=at,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    limit: int | Unset = 100,
    offset: int | Unset = 0,
    calendar: str | Unset = UNSET,
    status: GetAppointmentsCalendarStatus | Unset = GetAppointmentsCalendarStatus.ACTIVE,
    at: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> ErrorOut | str | None:
    """The book as an iCalendar feed

    Args:
        from_ (str | Unset):  Example: 2026-12-01 00:00.
        to (str | Unset):  Example: 2026-12-02 00:00.
        limit (int | Unset):  Default: 100. Example: 100.
        offset (int | Unset):  Default: 0.
        calendar (str | Unset):  Example: room-1.
        status (GetAppointmentsCalendarStatus | Unset):  Default:
            GetAppointmentsCalendarStatus.ACTIVE.
        at (str | Unset):  Example: 2026-11-26T08:00:01.234Z.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | str
    """

    return sync_detailed(
        client=client,
        from_=from_,
        to=to,
        limit=limit,
        offset=offset,
        calendar=calendar,
        status=status,
        at=at,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    limit: int | Unset = 100,
    offset: int | Unset = 0,
    calendar: str | Unset = UNSET,
    status: GetAppointmentsCalendarStatus | Unset = GetAppointmentsCalendarStatus.ACTIVE,
    at: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[ErrorOut | str]:
    """The book as an iCalendar feed

    Args:
        from_ (str | Unset):  Example: 2026-12-01 00:00.
        to (str | Unset):  Example: 2026-12-02 00:00.
        limit (int | Unset):  Default: 100. Example: 100.
        offset (int | Unset):  Default: 0.
        calendar (str | Unset):  Example: room-1.
        status (GetAppointmentsCalendarStatus | Unset):  Default:
            GetAppointmentsCalendarStatus.ACTIVE.
        at (str | Unset):  Example: 2026-11-26T08:00:01.234Z.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | str]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        limit=limit,
        offset=offset,
        calendar=calendar,
        status=status,
        at=at,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    from_: str | Unset = UNSET,
    to: str | Unset = UNSET,
    limit: int | Unset = 100,
    offset: int | Unset = 0,
    calendar: str | Unset = UNSET,
    status: GetAppointmentsCalendarStatus | Unset = GetAppointmentsCalendarStatus.ACTIVE,
    at: str | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> ErrorOut | str | None:
    """The book as an iCalendar feed

    Args:
        from_ (str | Unset):  Example: 2026-12-01 00:00.
        to (str | Unset):  Example: 2026-12-02 00:00.
        limit (int | Unset):  Default: 100. Example: 100.
        offset (int | Unset):  Default: 0.
        calendar (str | Unset):  Example: room-1.
        status (GetAppointmentsCalendarStatus | Unset):  Default:
            GetAppointmentsCalendarStatus.ACTIVE.
        at (str | Unset):  Example: 2026-11-26T08:00:01.234Z.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | str
    """

    return (
        await asyncio_detailed(
            client=client,
            from_=from_,
            to=to,
            limit=limit,
            offset=offset,
            calendar=calendar,
            status=status,
            at=at,
            cursor=cursor,
        )
    ).parsed
