from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.calendar_settings import CalendarSettings
from ...models.error_out import ErrorOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    calendar: str,
    *,
    body: CalendarSettings,
    if_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/calendars/{calendar}".format(
            calendar=quote(str(calendar), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CalendarSettings | ErrorOut | None:
    if response.status_code == 200:
        response_200 = CalendarSettings.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = ErrorOut.from_dict(response.json())

        return response_404

    if response.status_code == 412:
        response_412 = ErrorOut.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = ErrorOut.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorOut.from_dict(response.json())

        return response_415

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
    body: CalendarSettings,
    if_match: str | Unset = UNSET,
) -> Response[CalendarSettings | ErrorOut]:
    """Replace a calendar's settings

    Args:
        calendar (str):
        if_match (str | Unset):
        body (CalendarSettings):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CalendarSettings | ErrorOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
        body=body,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    calendar: str,
    *,
    client: AuthenticatedClient,
    body: CalendarSettings,
    if_match: str | Unset = UNSET,
) -> CalendarSettings | ErrorOut | None:
    """Replace a calendar's settings

    Args:
        calendar (str):
        if_match (str | Unset):
        body (CalendarSettings):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CalendarSettings | ErrorOut
    """

    return sync_detailed(
        calendar=calendar,
        client=client,
        body=body,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    calendar: str,
    *,
    client: AuthenticatedClient,
    body: CalendarSettings,
    if_match: str | Unset = UNSET,
) -> Response[CalendarSettings | ErrorOut]:
    """Replace a calendar's settings

    Args:
        calendar (str):
        if_match (str | Unset):
        body (CalendarSettings):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CalendarSettings | ErrorOut]
    """

    kwargs = _get_kwargs(
        calendar=calendar,
        body=body,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    calendar: str,
    *,
    client: AuthenticatedClient,
    body: CalendarSettings,
    if_match: str | Unset = UNSET,
) -> CalendarSettings | ErrorOut | None:
    """Replace a calendar's settings

    Args:
        calendar (str):
        if_match (str | Unset):
        body (CalendarSettings):

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
            body=body,
            if_match=if_match,
        )
    ).parsed
