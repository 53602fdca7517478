from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.appointment_version_out import AppointmentVersionOut
from ...models.error_out import ErrorOut
from ...types import Response


def _get_kwargs(
    appointment_id: int,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/appointments/{appointment_id}/history".format(
            appointment_id=quote(str(appointment_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorOut | list[AppointmentVersionOut] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = AppointmentVersionOut.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 401:
        response_401 = ErrorOut.from_dict(response.json())

        return response_401

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
) -> Response[ErrorOut | list[AppointmentVersionOut]]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    appointment_id: int,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorOut | list[AppointmentVersionOut]]:
    """Every version, oldest first

    Args:
        appointment_id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | list[AppointmentVersionOut]]
    """

    kwargs = _get_kwargs(
        appointment_id=appointment_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    appointment_id: int,
    *,
    client: AuthenticatedClient,
) -> ErrorOut | list[AppointmentVersionOut] | None:
    """Every version, oldest first

    Args:
        appointment_id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | list[AppointmentVersionOut]
    """

    return sync_detailed(
        appointment_id=appointment_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    appointment_id: int,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorOut | list[AppointmentVersionOut]]:
    """Every version, oldest first

    Args:
        appointment_id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorOut | list[AppointmentVersionOut]]
    """

    kwargs = _get_kwargs(
        appointment_id=appointment_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    appointment_id: int,
    *,
    client: AuthenticatedClient,
) -> ErrorOut | list[AppointmentVersionOut] | None:
    """Every version, oldest first

    Args:
        appointment_id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorOut | list[AppointmentVersionOut]
    """

    return (
        await asyncio_detailed(
            appointment_id=appointment_id,
            client=client,
        )
    ).parsed
