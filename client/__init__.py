"""tokenmock's reference client: each vendor's token flow done right, on `requests`.

    from tokenmock.client import ClickViewClient
    cv = ClickViewClient("my-id", "my-secret", base_url="http://127.0.0.1:8080/clickview")
    requests.get(f"{cv.base_url}/api/v1/example", auth=cv.auth())
"""

from tokenmock.client.aminotv import AminoTVClient, AminoTVProfileClient
from tokenmock.client.base import TokenClient
from tokenmock.client.clickview import ClickViewClient
from tokenmock.client.divetv import DiveTVClient
from tokenmock.client.errors import AuthenticationError, ContractViolation, RequestRejected, TokenError, TransportError
from tokenmock.client.junctiontv import JunctionTVClient
from tokenmock.client.store import FileTokenStore, MemoryTokenStore, TokenStore
from tokenmock.client.token import Token
from tokenmock.client.transport import RetryPolicy
from tokenmock.client.vision10 import Vision10Client

# Vendor id -> client class (used by `tokenmock token`).
CLIENTS: dict[str, type[TokenClient]] = {
    cls.vendor: cls for cls in (JunctionTVClient, ClickViewClient, Vision10Client, DiveTVClient, AminoTVClient)
}

__all__ = [
    "CLIENTS",
    "AminoTVClient",
    "AminoTVProfileClient",
    "AuthenticationError",
    "ClickViewClient",
    "ContractViolation",
    "DiveTVClient",
    "FileTokenStore",
    "JunctionTVClient",
    "MemoryTokenStore",
    "RequestRejected",
    "RetryPolicy",
    "Token",
    "TokenClient",
    "TokenError",
    "TokenStore",
    "TransportError",
    "Vision10Client",
]
