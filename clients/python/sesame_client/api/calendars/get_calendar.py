from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.calendar_settings import CalendarSettings
from ...models.error_out import ErrorOut
from ...types import Response


def _get_kwargs(
    calendar: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/calendars/{calendar}".format(
            calendar=quote(str(calendar), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CalendarSettings | ErrorOut | None:
    if response.status_code == 200:
        response_200 = CalendarSettings.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorOut.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorOut.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorOut.from_dict(response.json())

        return response_404

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
) -> Response[CalendarSettings | ErrorOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    calendar: str,
    *,
    client: AuthenticatedClient,
) -> Response[CalendarSettings | ErrorOut]:
    """A calendar's settings

    Args:
        calendar (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CalendarSettings | ErrorOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    calendar: str,
    *,
    client: AuthenticatedClient,
) -> CalendarSettings | ErrorOut | None:
    """A calendar's settings

    Args:
        calendar (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CalendarSettings | ErrorOut
    """

    return sync_detailed(
        calendar=calendar,
        client=client,
    ).parsed


async def asyncio_detailed(
    calendar: str,
    *,
    client: AuthenticatedClient,
) -> Response[CalendarSettings | ErrorOut]:
    """A calendar's settings

    Args:
        calendar (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CalendarSettings | ErrorOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    calendar: str,
    *,
    client: AuthenticatedClient,
) -> CalendarSettings | ErrorOut | None:
    """A calendar's settings

    Args:
        calendar (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CalendarSettings | ErrorOut
    """

    return (
        await asyncio_detailed(
            calendar=calendar,
            client=client,
        )
    ).parsed
