from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.availability_out import AvailabilityOut
from ...models.error_out import ErrorOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    from_: str,
    to: str,
    calendar: str | Unset = "default",
    min_duration: int | Unset = 0,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["from"] = from_

    params["to"] = to

    params["calendar"] = calendar

    params["minDuration"] = min_duration

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/availability",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AvailabilityOut | ErrorOut | None:
    if response.status_code == 200:
        response_200 = AvailabilityOut.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AvailabilityOut | ErrorOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    from_: str,
    to: str,
    calendar: str | Unset = "default",
    min_duration: int | Unset = 0,
) -> Response[AvailabilityOut | ErrorOut]:
    """Busy and free time of a calendar

    Args:
        from_ (str):  Example: 2026-12-01 00:00.
        to (str):  Example: 2026-12-02 00:00.
        calendar (str | Unset):  Default: 'default'. Example: room-1.
        min_duration (int | Unset):  Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AvailabilityOut | ErrorOut]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        calendar=calendar,
        min_duration=min_duration,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    from_: str,
    to: str,
    calendar: str | Unset = "default",
    min_duration: int | Unset = 0,
) -> AvailabilityOut | ErrorOut | None:
    """Busy and free time of a calendar

    Args:
        from_ (str):  Example: 2026-12-01 00:00.
        to (str):  Example: 2026-12-02 00:00.
        calendar (str | Unset):  Default: 'default'. Example: room-1.
        min_duration (int | Unset):  Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AvailabilityOut | ErrorOut
    """

    return sync_detailed(
        client=client,
        from_=from_,
        to=to,
        calendar=calendar,
        min_duration=min_duration,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    from_: str,
    to: str,
    calendar: str | Unset = "default",
    min_duration: int | Unset = 0,
) -> Response[AvailabilityOut | ErrorOut]:
    """Busy and free time of a calendar

    Args:
        from_ (str):  Example: 2026-12-01 00:00.
        to (str):  Example: 2026-12-02 00:00.
        calendar (str | Unset):  Default: 'default'. Example: room-1.
        min_duration (int | Unset):  Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AvailabilityOut | ErrorOut]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        calendar=calendar,
        min_duration=min_duration,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    from_: str,
    to: str,
    calendar: str | Unset = "default",
    min_duration: int | Unset = 0,
) -> AvailabilityOut | ErrorOut | None:
    """Busy and free time of a calendar

    Args:
        from_ (str):  Example: 2026-12-01 00:00.
        to (str):  Example: 2026-12-02 00:00.
        calendar (str | Unset):  Default: 'default'. Example: room-1.
        min_duration (int | Unset):  Default: 0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AvailabilityOut | ErrorOut
    """

    return (
        await asyncio_detailed(
            client=client,
            from_=from_,
            to=to,
            calendar=calendar,
            min_duration=min_duration,
        )
    ).parsed
