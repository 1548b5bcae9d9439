"""tokenmock's reference client: each vendor's token flow done right, on `requests`.

    from client import ClickViewClient
    cv = ClickViewClient("my-id", "my-secret", base_url="http://127.0.0.1:8080/clickview")
    requests.get(f"{cv.base_url}/api/v1/example", auth=cv.auth())
"""

from client.aminotv import AminoTVClient, AminoTVProfileClient
from client.base import TokenClient
from client.clickview import ClickViewClient
from client.divetv import DiveTVClient
from client.errors import AuthenticationError, ContractViolation, RequestRejected, TokenError, TransportError
from client.junctiontv import JunctionTVClient
from client.store import FileTokenStore, MemoryTokenStore, TokenStore
from client.token import Token
from client.transport import RetryPolicy
from client.vision10 import Vision10Client

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
