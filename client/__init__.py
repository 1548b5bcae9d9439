"""tokenmock's reference client: each vendor's token flow done right, on `requests`.

    from client import ClickViewClient
    cv = ClickViewClient("my-id", "my-secret", base_url="http://127.0.0.1:8080/clickview")
    requests.get(f"{cv.base_url}/api/v1/example", auth=cv.auth())
"""

from client.base import TokenClient
from client.errors import AuthenticationError, ContractViolation, RequestRejected, TokenError, TransportError
from client.store import FileTokenStore, MemoryTokenStore, TokenStore
from client.token import Token
from client.transport import RetryPolicy

__all__ = [
    "AuthenticationError",
    "ContractViolation",
    "FileTokenStore",
    "MemoryTokenStore",
    "RequestRejected",
    "RetryPolicy",
    "Token",
    "TokenClient",
    "TokenError",
    "TokenStore",
    "TransportError",
]
