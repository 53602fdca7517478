from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_out import ErrorOut
from ...models.slots_out import SlotsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    calendar: list[str],
    from_: str,
    to: str,
    duration: int,
    interval: int | Unset = 15,
    time_zone: str | Unset = UNSET,
    required: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_calendar = calendar

    params["calendar"] = json_calendar

    params["from"] = from_

    params["to"] = to

    params["duration"] = duration

    params["interval"] = interval

    params["timeZone"] = time_zone

    params["required"] = required

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/slots",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorOut | SlotsOut | None:
    if response.status_code == 200:
        response_200 = SlotsOut.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorOut | SlotsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    calendar: list[str],
    from_: str,
    to: str,
    duration: int,
    interval: int | Unset = 15,
    time_zone: str | Unset = UNSET,
    required: int | Unset = UNSET,
) -> Response[ErrorOut | SlotsOut]:
    """Bookable starts

    Args:
        calendar (list[str]):  Example: ['dr-lee'].
        from_ (str):  Example: 2027-03-01 00:00.
        to (str):  Example: 2027-03-08 00:00.
        duration (int):  Example: 30.
        interval (int | Unset):  Default: 15. Example: 15.
        time_zone (str | Unset):  Example: Europe/Berlin.
        required (int | Unset):  Example: 1.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | SlotsOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
        from_=from_,
        to=to,
        duration=duration,
        interval=interval,
        time_zone=time_zone,
        required=required,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    calendar: list[str],
    from_: str,
    to: str,
    duration: int,
    interval: int | Unset = 15,
    time_zone: str | Unset = UNSET,
    required: int | Unset = UNSET,
) -> ErrorOut | SlotsOut | None:
    """Bookable starts

    Args:
        calendar (list[str]):  Example: ['dr-lee'].
        from_ (str):  Example: 2027-03-01 00:00.
        to (str):  Example: 2027-03-08 00:00.
        duration (int):  Example: 30.
        interval (int | Unset):  Default: 15. Example: 15.
        time_zone (str | Unset):  Example: Europe/Berlin.
        required (int | Unset):  Example: 1.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | SlotsOut
    """

    return sync_detailed(
        client=client,
        calendar=calendar,
        from_=from_,
        to=to,
        duration=duration,
        interval=interval,
        time_zone=time_zone,
        required=required,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    calendar: list[str],
    from_: str,
    to: str,
    duration: int,
    interval: int | Unset = 15,
    time_zone: str | Unset = UNSET,
    required: int | Unset = UNSET,
) -> Response[ErrorOut | SlotsOut]:
    """Bookable starts

    Args:
        calendar (list[str]):  Example: ['dr-lee'].
        from_ (str):  Example: 2027-03-01 00:00.
        to (str):  Example: 2027-03-08 00:00.
        duration (int):  Example: 30.
        interval (int | Unset):  Default: 15. Example: 15.
        time_zone (str | Unset):  Example: Europe/Berlin.
        required (int | Unset):  Example: 1.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | SlotsOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
        from_=from_,
        to=to,
        duration=duration,
        interval=interval,
        time_zone=time_zone,
        required=required,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    calendar: list[str],
    from_: str,
    to: str,
    duration: int,
    interval: int | Unset = 15,
    time_zone: str | Unset = UNSET,
    required: int | Unset = UNSET,
) -> ErrorOut | SlotsOut | None:
    """Bookable starts

    Args:
        calendar (list[str]):  Example: ['dr-lee'].
        from_ (str):  Example: 2027-03-01 00:00.
        to (str):  Example: 2027-03-08 00:00.
        duration (int):  Example: 30.
        interval (int | Unset):  Default: 15. Example: 15.
        time_zone (str | Unset):  Example: Europe/Berlin.
        required (int | Unset):  Example: 1.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | SlotsOut
    """

    return (
        await asyncio_detailed(
            client=client,
            calendar=calendar,
            from_=from_,
            to=to,
            duration=duration,
            interval=interval,
            time_zone=time_zone,
            required=required,
        )
    ).parsed
